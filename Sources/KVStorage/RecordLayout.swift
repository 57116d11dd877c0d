/// Where the parts of a framed record sit (docs/STORAGE.md, "Record framing"):
///
///     0   crc         u32 LE  CRC-32C of bytes [4, 32 + L)
///     4   L           u32 LE  payload length
///     8   lsn         u64 LE
///     16  batchFirst  u64 LE
///     24  batchLast   u64 LE
///     32  payload     L bytes
///         padding     zeros up to the next multiple of 8
///
/// Records start at multiples of 8, so the crc and the length share one aligned 8-byte
/// word: a disk that tears writes at no finer grain than that never shows a length
/// without its checksum.
enum RecordLayout {
    static let headerSize = 32
    static let alignment = 8
    /// Anything longer is damage: no record the format writes comes near it, and a
    /// garbage length must not make a reader checksum (or allocate) gigabytes.
    static let maxPayloadLength = 64 * 1024 * 1024
    /// The grain at which a torn write is assumed to leave zeros (docs/STORAGE.md,
    /// "Torn tail or damage").
    static let sectorSize = 512

    static let crcOffset = 0
    static let lengthOffset = 4
    static let lsnOffset = 8
    static let batchFirstOffset = 16
    static let batchLastOffset = 24
    /// The checksum covers everything after itself up to the end of the payload.
    static let checksummedStart = 4

    /// The bytes a record with a payload of `payloadLength` takes, padding included.
    static func recordSize(payloadLength: Int) -> Int {
        headerSize + paddedLength(payloadLength)
    }

    static func paddedLength(_ length: Int) -> Int {
        (length + alignment - 1) & ~(alignment - 1)
    }
}
