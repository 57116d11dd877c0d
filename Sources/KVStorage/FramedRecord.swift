import KVProtocol

/// A record whose framing and checksum are intact, located in a file's bytes.
struct FramedRecord: Sendable {
    var offset: Int
    var header: RecordHeader
    /// Where the next record starts: after the payload and its padding.
    var end: Int

    var payload: Range<Int> {
        offset + RecordLayout.headerSize..<offset + RecordLayout.headerSize + header.payloadLength
    }

    /// A record's framing and checksum at `offset`, or what is wrong with them.
    static func read(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Result<FramedRecord, FramingProblem> {
        guard let header = RecordHeader(bytes, at: offset) else {
            return .failure(.truncatedHeader(available: bytes.count - offset))
        }
        guard header.hasUsableLength else { return .failure(.unusableLength(header)) }
        let end = offset + RecordLayout.recordSize(payloadLength: header.payloadLength)
        guard end <= bytes.count else { return .failure(.runsPastEnd(header, claimedEnd: end)) }
        let crc = checksum(bytes, at: offset, header)
        guard crc == header.crc else { return .failure(.checksumMismatch(header, computed: crc)) }
        // The checksum does not cover the padding, so a flipped bit there shows only here.
        let payloadEnd = offset + RecordLayout.headerSize + header.payloadLength
        guard bytes[payloadEnd..<end].allSatisfy({ $0 == 0 }) else { return .failure(.nonZeroPadding(header)) }
        return .success(FramedRecord(offset: offset, header: header, end: end))
    }

    /// The checksum of the record at `offset` as computed (not as stored): over the header
    /// after the crc field and the payload, which must lie within `bytes`.
    static func checksum(_ bytes: UnsafeRawBufferPointer, at offset: Int, _ header: RecordHeader) -> UInt32 {
        let checksummed =
            offset + RecordLayout.checksummedStart..<offset + RecordLayout.headerSize + header.payloadLength
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[checksummed]))
    }
}

extension FramedRecord {
    /// A reader over this record's payload (a copy of it: the reader may outlive `bytes`).
    func payloadReader(_ bytes: UnsafeRawBufferPointer) -> WireReader {
        WireReader(copying: UnsafeRawBufferPointer(rebasing: bytes[payload]))
    }
}
