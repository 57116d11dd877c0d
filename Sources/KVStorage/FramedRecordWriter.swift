import KVProtocol

/// Lays out framed records in one buffer: a blank 32-byte header, the payload written
/// through `payload`, zero padding. `takeBytes()` then fills in every header and computes
/// each checksum once, over the finished bytes, so no payload is copied to be framed.
struct FramedRecordWriter {
    /// The buffer being laid out; between `beginRecord` and `endRecord`, write the
    /// record's payload (its type byte first) here.
    var payload: WireWriter
    private var headers: [PendingHeader] = []
    private var openRecord: PendingHeader?

    private struct PendingHeader {
        var start: Int
        var payloadLength: Int
        var lsn: UInt64
        var batchFirst: UInt64
        var batchLast: UInt64
    }

    private static let blankHeader = [UInt8](repeating: 0, count: RecordLayout.headerSize)
    private static let paddings: [[UInt8]] = (0..<RecordLayout.alignment).map { [UInt8](repeating: 0, count: $0) }

    init(capacity: Int) {
        payload = WireWriter(capacity: capacity)
    }

    /// Bytes laid out so far (complete records, plus the open one if any).
    var byteCount: Int { payload.bytes.count }

    var isEmpty: Bool { payload.bytes.isEmpty }

    mutating func beginRecord(lsn: UInt64, batchFirst: UInt64, batchLast: UInt64) {
        precondition(openRecord == nil, "a record is already open")
        openRecord = PendingHeader(
            start: payload.bytes.count, payloadLength: 0, lsn: lsn, batchFirst: batchFirst, batchLast: batchLast)
        payload.raw(Self.blankHeader)
    }

    mutating func endRecord() {
        guard var record = openRecord else { preconditionFailure("no record is open") }
        record.payloadLength = payload.bytes.count - record.start - RecordLayout.headerSize
        precondition(record.payloadLength > 0, "a payload has at least its type byte")
        precondition(record.payloadLength <= RecordLayout.maxPayloadLength, "record payload too large")
        payload.raw(Self.paddings[RecordLayout.paddedLength(record.payloadLength) - record.payloadLength])
        headers.append(record)
        openRecord = nil
    }

    /// The finished records, and an empty writer with room for `nextCapacity` bytes.
    mutating func takeBytes(nextCapacity: Int = 0) -> [UInt8] {
        precondition(openRecord == nil, "a record is still open")
        var bytes = payload.bytes
        // Dropping the writer's reference leaves `bytes` the only one, so filling in the
        // headers below writes in place rather than copying the buffer.
        payload = WireWriter(capacity: nextCapacity)
        bytes.withUnsafeMutableBytes { buffer in
            for header in headers { Self.fill(header, in: buffer) }
        }
        headers.removeAll(keepingCapacity: true)
        return bytes
    }

    private static func fill(_ header: PendingHeader, in buffer: UnsafeMutableRawBufferPointer) {
        let start = header.start
        buffer.storeBytes(
            of: UInt32(header.payloadLength).littleEndian, toByteOffset: start + RecordLayout.lengthOffset,
            as: UInt32.self)
        buffer.storeBytes(of: header.lsn.littleEndian, toByteOffset: start + RecordLayout.lsnOffset, as: UInt64.self)
        buffer.storeBytes(
            of: header.batchFirst.littleEndian, toByteOffset: start + RecordLayout.batchFirstOffset, as: UInt64.self)
        buffer.storeBytes(
            of: header.batchLast.littleEndian, toByteOffset: start + RecordLayout.batchLastOffset, as: UInt64.self)
        let checksummed = start + RecordLayout.checksummedStart..<start + RecordLayout.headerSize + header.payloadLength
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[checksummed]))
        buffer.storeBytes(of: crc.littleEndian, toByteOffset: start + RecordLayout.crcOffset, as: UInt32.self)
    }
}
