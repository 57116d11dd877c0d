/// Why no intact record could be read at an offset.
enum FramingProblem: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than the 32 header bytes are left.
    case truncatedHeader(available: Int)
    /// A payload length of 0 (every payload has its type byte) or beyond the bound.
    case unusableLength(RecordHeader)
    /// The record as its length claims it would end after the last byte.
    case runsPastEnd(RecordHeader, claimedEnd: Int)
    case checksumMismatch(RecordHeader, computed: UInt32)
    case nonZeroPadding(RecordHeader)

    var description: String {
        switch self {
        case .truncatedHeader(let available):
            "truncated record header (\(available) of \(RecordLayout.headerSize) bytes)"
        case .unusableLength(let header):
            "invalid payload length \(header.payloadLength) (1...\(RecordLayout.maxPayloadLength))"
        case .runsPastEnd(let header, let claimedEnd):
            "record of \(header.payloadLength) payload bytes runs past the end of the file (to byte \(claimedEnd))"
        case .checksumMismatch(let header, let computed):
            "checksum mismatch (stored \(hex(header.crc)), computed \(hex(computed)); record lsn \(header.lsn)?)"
        case .nonZeroPadding(let header):
            "non-zero padding after record lsn \(header.lsn)"
        }
    }

    private func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
