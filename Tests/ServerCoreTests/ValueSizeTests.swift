import KVProtocol
import ServerCore
import XCTest

/// The values every request moves through the core, the driver and the transport stay
/// small: an enum is as large as its largest inline case, and each step copies them.
/// Boxing the large cases of `Message` and `ServerEffect` saved 390 to 2,000 instructions
/// per SET (docs/PERFORMANCE.md, "Smaller values on the hot path").
final class ValueSizeTests: XCTestCase {
    func testAMessageIsNoLargerThanAForwardBatchInline() {
        XCTAssertLessThanOrEqual(MemoryLayout<Message>.size, 72, "a large case of Message should be indirect")
        // The hot cases are a request (48 bytes), a reply (24), a forward batch (56) and an
        // acknowledgement (16); a case tag may take a byte more.
        XCTAssertLessThanOrEqual(
            MemoryLayout<Message>.size, MemoryLayout<ForwardBatch>.size + 8,
            "no case may be larger inline than a forward batch (with room for the tag)")
    }

    func testAnEffectIsNoLargerThanALogRecordsEffect() {
        XCTAssertLessThanOrEqual(MemoryLayout<ServerEffect>.size, 96, "a large case of ServerEffect should be indirect")
        // `.persist(DurableRecord, lsn:)`, one per update, sets the size: the record and its lsn.
        XCTAssertLessThanOrEqual(
            MemoryLayout<ServerEffect>.size, MemoryLayout<DurableRecord>.size + MemoryLayout<UInt64>.size + 8,
            "no case may be larger inline than a log record's (with room for the tag)")
    }
}
