import KVProtocol
import ServerCore
import XCTest

@testable import KVStorage

/// Records encoded turn by turn on the event loop and sealed as one write by the I/O
/// thread: the bytes must be what one write of those records is (docs/STORAGE.md,
/// "Records"), however the turns were merged, and however often a write refused for want
/// of space was sealed before it went in.
final class EncodedRecordsTests: XCTestCase {
    private let turns: [[LogRecord]] = [
        [
            setRecord("a", "1", seq: 1, revision: 1), claimRecord(.primary, 3),
            setRecord("bb", "22", seq: 2, revision: 2),
        ],
        [deleteRecord("a", seq: 3, revision: 3)],
        [setRecord("ccc", String(repeating: "v", count: 301), seq: 4, revision: 4)],
    ]

    /// The reference: the framing writer the snapshots use, every record given the bounds
    /// of the one write.
    private func oneWrite(_ records: [LogRecord], firstLSN: UInt64) -> [UInt8] {
        var writer = FramedRecordWriter(capacity: 4096)
        let last = firstLSN + UInt64(records.count - 1)
        for (index, record) in records.enumerated() {
            writer.beginRecord(lsn: firstLSN + UInt64(index), batchFirst: firstLSN, batchLast: last)
            writer.payload.append(record)
            writer.endRecord()
        }
        return writer.takeBytes()
    }

    private func encode(_ records: [LogRecord], firstLSN: UInt64) -> EncodedRecords {
        let encoded = EncodedRecords(capacity: 64)
        for (index, record) in records.enumerated() { encoded.append(record, lsn: firstLSN + UInt64(index)) }
        return encoded
    }

    private func sealed(_ records: EncodedRecords) -> [UInt8] {
        records.seal { [UInt8]($0) }
    }

    func testTurnsMergedIntoOneWriteAreSealedAsThatWrite() {
        let merged = encode(turns[0], firstLSN: 10)
        merged.append(contentsOf: encode(turns[1], firstLSN: 13))
        merged.append(contentsOf: encode(turns[2], firstLSN: 14))
        XCTAssertEqual(merged.firstLSN, 10)
        XCTAssertEqual(merged.lastLSN, 14)
        XCTAssertEqual(sealed(merged), oneWrite(turns.flatMap { $0 }, firstLSN: 10))
        XCTAssertEqual(merged.byteCount, sealed(merged).count)
    }

    /// A write refused for want of space was sealed with its own bounds; the next try
    /// takes the turns queued since with it, and every record must carry the new bounds
    /// and a checksum over them.
    func testSealingAgainWithMoreRecordsRewritesEveryRecordsBounds() {
        let refused = encode(turns[0], firstLSN: 10)
        XCTAssertEqual(sealed(refused), oneWrite(turns[0], firstLSN: 10))
        refused.append(contentsOf: encode(turns[1] + turns[2], firstLSN: 13))
        XCTAssertEqual(sealed(refused), oneWrite(turns.flatMap { $0 }, firstLSN: 10))
        // Sealed once more without a change (another refusal): still exactly that write.
        XCTAssertEqual(sealed(refused), oneWrite(turns.flatMap { $0 }, firstLSN: 10))
    }

    /// The loop's path (an update without its record made) and the record's path agree.
    func testAnUpdateEncodesAsItsRecord() {
        guard case .record(.update(let update)) = turns[2][0] else { return XCTFail("not an update") }
        let direct = EncodedRecords()
        direct.append(update: update, lsn: 7)
        XCTAssertEqual(sealed(direct), oneWrite([turns[2][0]], firstLSN: 7))
    }

    /// The buffer grows past its first capacity without losing what it held.
    func testGrowingKeepsEveryRecord() {
        let records = (0..<200).map { setRecord("key\($0)", String(repeating: "x", count: $0), seq: UInt64($0) + 1) }
        let encoded = encode(records, firstLSN: 1)
        XCTAssertEqual(sealed(encoded), oneWrite(records, firstLSN: 1))
    }
}
