/// The 32 bytes that frame a record, as read: nothing in it is trusted until the
/// checksum over it and the payload matches.
struct RecordHeader: Equatable, Sendable {
    var crc: UInt32
    var payloadLength: Int
    var lsn: UInt64
    var batchFirst: UInt64
    var batchLast: UInt64

    /// The header at `offset`, or nil if fewer than 32 bytes are left there.
    init?(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, bytes.count - offset >= RecordLayout.headerSize else { return nil }
        crc = bytes.littleEndianUInt32(at: offset + RecordLayout.crcOffset)
        payloadLength = Int(bytes.littleEndianUInt32(at: offset + RecordLayout.lengthOffset))
        lsn = bytes.littleEndianUInt64(at: offset + RecordLayout.lsnOffset)
        batchFirst = bytes.littleEndianUInt64(at: offset + RecordLayout.batchFirstOffset)
        batchLast = bytes.littleEndianUInt64(at: offset + RecordLayout.batchLastOffset)
    }

    /// Whether the length is one a record can have: at least the type byte, at most the bound.
    var hasUsableLength: Bool { payloadLength >= 1 && payloadLength <= RecordLayout.maxPayloadLength }

    /// Whether the batch fields are ordered as every writer writes them.
    var hasOrderedBatch: Bool { batchFirst <= lsn && lsn <= batchLast }
}
