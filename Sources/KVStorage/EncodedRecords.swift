import KVProtocol
import ServerCore

/// Log records encoded where they are made (a server's event loop), framed but not yet
/// sealed: each header holds the record's length and lsn, and its payload and padding
/// follow (docs/STORAGE.md, "Records"). The bounds of the write a record goes out in, and
/// the checksum that covers them, are filled in by `seal()`, which `StorageEngine.append`
/// calls once it knows which records make one write.
///
/// So the only copy of an update the log makes is its encoding, on the thread that has the
/// update at hand; the I/O thread that syncs receives bytes, not values whose copies and
/// releases would cost it more than the encoding (`scripts/bench --callgrind --fsync
/// always`).
///
/// A class, so that the memory is freed whichever thread drops the last reference: the
/// records go from the loop to the I/O thread through a queue, and are never used by two
/// threads at once (hence `@unchecked Sendable`).
public final class EncodedRecords: @unchecked Sendable {
    // Exclusivity: one thread at a time uses the records, and no access to a property
    // outlives the method that makes it, so the dynamic checks (four per record, a third
    // of the encoding's cost) would only confirm it.
    @exclusivity(unchecked) private var bytes: UnmanagedBytes
    /// The lsn of the first record; 0 while empty.
    @exclusivity(unchecked) public private(set) var firstLSN: UInt64 = 0
    /// The lsn of the last record; 0 while empty.
    @exclusivity(unchecked) public private(set) var lastLSN: UInt64 = 0

    /// Empty, with room for about `capacity` bytes.
    public init(capacity: Int = 4096) {
        bytes = UnmanagedBytes(capacity: capacity)
    }

    deinit { bytes.deallocate() }

    public var isEmpty: Bool { firstLSN == 0 }

    /// Bytes encoded, framing included.
    public var byteCount: Int { bytes.count }

    /// Encodes `record`, whose lsn must follow the last one's.
    public func append(_ record: DurableRecord, lsn: UInt64) {
        switch record {
        case .update(let update):
            append(update: update, lsn: lsn)
        case .claim(let claim):
            appendRecord(.claim, lsn: lsn) { $0.append(claim) }
        }
    }

    /// Encodes the record of `update`, whose lsn must follow the last one's.
    public func append(update: ForwardedUpdate, lsn: UInt64) {
        appendRecord(.update, lsn: lsn) { $0.append(update) }
    }

    /// Encodes `record`, whose lsn must follow the last one's.
    func append(_ record: LogRecord, lsn: UInt64) {
        switch record {
        case .record(let durable):
            append(durable, lsn: lsn)
        case .start(let start):
            appendRecord(.serverStart, lsn: lsn) { $0.append(start) }
        }
    }

    /// A record of `type` whose fields `payload` writes.
    @inline(__always)
    private func appendRecord(_ type: PayloadType, lsn: UInt64, _ payload: (inout UnmanagedBytes) -> Void) {
        begin(lsn: lsn)
        // One exclusive access to the stored buffer per record, not one per field.
        var output = bytes
        let start = output.count
        output.appendBlankHeader()
        output.u8(type.rawValue)
        payload(&output)
        output.endRecord(startingAt: start, lsn: lsn)
        bytes = output
    }

    /// Appends the records of `later`, whose first lsn must follow this one's last: the
    /// turns queued while the log was syncing, made one write.
    public func append(contentsOf later: EncodedRecords) {
        guard !later.isEmpty else { return }
        begin(lsn: later.firstLSN)
        lastLSN = later.lastLSN
        bytes.appendBytes(later.bytes.contents)
    }

    private func begin(lsn: UInt64) {
        precondition(isEmpty || lsn == lastLSN + 1, "LSN \(lsn) encoded after \(lastLSN)")
        if isEmpty { firstLSN = lsn }
        lastLSN = lsn
    }

    /// Makes the records one write (each carries `firstLSN` and `lastLSN` as its write's
    /// bounds) and checksums each, and hands over the finished bytes, valid until the
    /// records are changed or released.
    func seal<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        let buffer = bytes.contents
        let mutable = UnsafeMutableRawBufferPointer(mutating: buffer)
        var offset = 0
        while offset < buffer.count {
            let length = Int(
                UInt32(
                    littleEndian: buffer.loadUnaligned(
                        fromByteOffset: offset + RecordLayout.lengthOffset, as: UInt32.self)))
            mutable.storeBytes(
                of: firstLSN.littleEndian, toByteOffset: offset + RecordLayout.batchFirstOffset, as: UInt64.self)
            mutable.storeBytes(
                of: lastLSN.littleEndian, toByteOffset: offset + RecordLayout.batchLastOffset, as: UInt64.self)
            let checksummed = offset + RecordLayout.checksummedStart..<offset + RecordLayout.headerSize + length
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[checksummed]))
            mutable.storeBytes(of: crc.littleEndian, toByteOffset: offset + RecordLayout.crcOffset, as: UInt32.self)
            offset += RecordLayout.recordSize(payloadLength: length)
        }
        return try body(buffer)
    }
}

extension UnmanagedBytes {
    /// A header of zeros, filled in by `endRecord` and `EncodedRecords.seal`.
    mutating func appendBlankHeader() {
        appendZeros(RecordLayout.headerSize)
    }

    /// Fills in the length and lsn of the record whose header is at `start`, and pads it.
    mutating func endRecord(startingAt start: Int, lsn: UInt64) {
        let length = count - start - RecordLayout.headerSize
        precondition(length <= RecordLayout.maxPayloadLength, "record payload too large")
        let header = mutableContents
        header.storeBytes(
            of: UInt32(length).littleEndian, toByteOffset: start + RecordLayout.lengthOffset, as: UInt32.self)
        header.storeBytes(of: lsn.littleEndian, toByteOffset: start + RecordLayout.lsnOffset, as: UInt64.self)
        appendZeros(RecordLayout.paddedLength(length) - length)
    }
}
