import KVProtocol
import ServerCore
import XCTest

/// The values every request moves through the core, the driver and the transport stay
/// small: a large inline case makes every one of them as large, and each step copies
/// them (docs/PERFORMANCE.md, "Smaller values on the hot path": a 344-byte server report
/// inline in `Message` cost 870 instructions per SET).
final class ValueSizeTests: XCTestCase {
    func testAMessageIsNoLargerThanItsLargestHotCase() {
        XCTAssertLessThanOrEqual(MemoryLayout<Message>.size, 72, "a large case of Message should be indirect")
        XCTAssertLessThanOrEqual(
            MemoryLayout<Message>.size, MemoryLayout<TransferChunk>.size + 8,
            "no case may be larger inline than a transfer chunk")
    }

    func testAnEffectIsNoLargerThanALogRecordsEffect() {
        XCTAssertLessThanOrEqual(
            MemoryLayout<ServerEffect>.size, MemoryLayout<DurableRecord>.size + 8,
            "a large case of ServerEffect should be indirect")
    }
}
