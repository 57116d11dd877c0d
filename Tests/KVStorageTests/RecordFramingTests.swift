import KVProtocol
import KVStorage
import XCTest

/// The framing's bytes, as docs/STORAGE.md describes them.
final class RecordFramingTests: XCTestCase {
    private func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    private func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }

    func testBatchRecordsAreAlignedPaddedWithZerosAndCarryTheirWrite() {
        var bytes: [UInt8] = []
        let records = [setRecord("a", "1"), setRecord("bb", "22"), setRecord("ccc", "333"), claimRecord(.backup, 2)]
        LogEncoder.encodeBatch(
            records.enumerated().map { LogEntry(lsn: 40 + UInt64($0.offset), record: $0.element) }, into: &bytes)
        var offset = 0
        var lsn: UInt64 = 40
        while offset < bytes.count {
            XCTAssertEqual(offset % 8, 0)
            let length = Int(u32(bytes, offset + 4))
            XCTAssertEqual(u64(bytes, offset + 8), lsn)
            XCTAssertEqual(u64(bytes, offset + 16), 40, "batchFirst")
            XCTAssertEqual(u64(bytes, offset + 24), 43, "batchLast")
            XCTAssertEqual(u32(bytes, offset), CRC32C.checksum(Array(bytes[offset + 4..<offset + 32 + length])))
            let end = offset + 32 + (length + 7) / 8 * 8
            XCTAssertEqual(
                Array(bytes[offset + 32 + length..<end]), [UInt8](repeating: 0, count: end - offset - 32 - length))
            offset = end
            lsn += 1
        }
        XCTAssertEqual(offset, bytes.count)
        XCTAssertEqual(lsn, 44)
    }

    func testBatchAppendsToWhatTheBufferHolds() {
        var bytes = LogEncoder.encodeLogHeader(generation: 1, firstLSN: 1)
        let header = bytes
        LogEncoder.encodeBatch([LogEntry(lsn: 1, record: setRecord("k", "v"))], into: &bytes)
        XCTAssertEqual(Array(bytes[..<header.count]), header)
        var alone: [UInt8] = []
        LogEncoder.encodeBatch([LogEntry(lsn: 1, record: setRecord("k", "v"))], into: &alone)
        XCTAssertEqual(Array(bytes[header.count...]), alone)
    }

    /// The worked example of docs/STORAGE.md, byte for byte.
    func testWorkedExampleOfTheDocument() {
        var bytes: [UInt8] = []
        LogEncoder.encodeBatch(
            [LogEntry(lsn: 1, record: setRecord("k", "v", client: 7, seq: 1, revision: 1))], into: &bytes)
        let expected: [UInt8] = [
            0xdf, 0xc7, 0x4e, 0x4a, 0x39, 0x00, 0x00, 0x00,  // crc 0x4A4EC7DF, L = 57
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // lsn 1
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // batchFirst 1
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // batchLast 1
            0x10,  // update
            0x01,  // change: put
            0x00, 0x00, 0x00, 0x01, 0x6b,  // key "k"
            0x00, 0x00, 0x00, 0x01, 0x76,  // value "v"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // the key's revision 1
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // deadline 0: none
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // the update's revision 1
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,  // clientID 7
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // seq 1
            0x00,  // reply status ok, no outcome
            0x00, 0x00, 0x00, 0x00,  // reply value: empty
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // padding to 96
        ]
        XCTAssertEqual(bytes, expected, bytes.map { String($0, radix: 16) }.joined(separator: " "))
        XCTAssertEqual(bytes, framedRecord(payload: Array(expected[32..<89]), lsn: 1, batchFirst: 1, batchLast: 1))
    }

    /// The second example of docs/STORAGE.md: the payload of a transaction's update, whose
    /// reply carries its outcome.
    func testTransactionExampleOfTheDocument() {
        let deadline: UInt64 = 1_767_225_600_000
        let update = ForwardedUpdate(
            change: .several([
                .put(b("a"), StoredValue(value: b("1"), revision: 8, expiresAt: deadline)), .delete(b("b")),
            ]),
            revision: 8, clientID: 9, seq: 4,
            reply: ClientReply(
                outcome: TxnOutcome(
                    succeeded: true, results: [.done, .value(StoredValue(value: b("2"), revision: 3))], revision: 8,
                    now: deadline - 600_000)))
        var bytes: [UInt8] = []
        LogEncoder.encodeBatch([LogEntry(lsn: 12, record: .record(.update(update)))], into: &bytes)
        let payload: [UInt8] = [
            0x10,  // update
            0x05, 0x00, 0x00, 0x00, 0x02,  // change: several, 2
            0x01,  // put
            0x00, 0x00, 0x00, 0x01, 0x61,  // key "a"
            0x00, 0x00, 0x00, 0x01, 0x31,  // value "1"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,  // the key's revision 8
            0x00, 0x00, 0x01, 0x9b, 0x76, 0xda, 0xa8, 0x00,  // deadline 2026-01-01T00:00:00Z
            0x03,  // delete
            0x00, 0x00, 0x00, 0x01, 0x62,  // key "b"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,  // the update's revision 8
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,  // clientID 9
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,  // seq 4
            0x80,  // reply status ok, an outcome follows
            0x00, 0x00, 0x00, 0x00,  // reply value: empty
            0x01,  // succeeded
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,  // revision 8
            0x00, 0x00, 0x01, 0x9b, 0x76, 0xd1, 0x80, 0x40,  // now: ten minutes before
            0x00, 0x00, 0x00, 0x02,  // 2 results
            0x00,  // done
            0x01, 0x01,  // value, present
            0x00, 0x00, 0x00, 0x01, 0x32,  // "2"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,  // revision 3
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // deadline none
        ]
        XCTAssertEqual(payload.count, 113)
        XCTAssertEqual(
            Array(bytes[32..<min(bytes.count, 32 + payload.count)]), payload,
            bytes.map { String($0, radix: 16) }.joined(separator: " "))
        XCTAssertEqual(bytes, framedRecord(payload: payload, lsn: 12, batchFirst: 12, batchLast: 12))
    }

    func testLogHeaderFraming() {
        let bytes = LogEncoder.encodeLogHeader(generation: 9, firstLSN: 500)
        let payload: [UInt8] = [0x01, 0x00, 0x02] + bigEndian(UInt64(9)) + bigEndian(UInt64(500))
        XCTAssertEqual(bytes, framedRecord(payload: payload, lsn: 499, batchFirst: 499, batchLast: 499))
    }
}
