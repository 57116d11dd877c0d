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
        LogEncoder.encodeBatch([LogEntry(lsn: 1, record: setRecord("k", "v", client: 7, seq: 1))], into: &bytes)
        let expected: [UInt8] = [
            0x50, 0x85, 0x6a, 0xe4, 0x21, 0x00, 0x00, 0x00,  // crc, L = 33
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // lsn 1
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // batchFirst 1
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // batchLast 1
            0x10, 0x01,  // update, set
            0x00, 0x00, 0x00, 0x01, 0x6b,  // key "k"
            0x00, 0x00, 0x00, 0x01, 0x76,  // value "v"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,  // clientID 7
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // seq 1
            0x00, 0x00, 0x00, 0x00, 0x00,  // reply ok, empty value
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // padding to 72
        ]
        XCTAssertEqual(bytes, expected, bytes.map { String($0, radix: 16) }.joined(separator: " "))
        XCTAssertEqual(bytes, framedRecord(payload: Array(expected[32..<65]), lsn: 1, batchFirst: 1, batchLast: 1))
    }

    func testLogHeaderFraming() {
        let bytes = LogEncoder.encodeLogHeader(generation: 9, firstLSN: 500)
        let payload: [UInt8] = [0x01, 0x00, 0x01] + bigEndian(UInt64(9)) + bigEndian(UInt64(500))
        XCTAssertEqual(bytes, framedRecord(payload: payload, lsn: 499, batchFirst: 499, batchLast: 499))
    }

    private func bigEndian(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
}
