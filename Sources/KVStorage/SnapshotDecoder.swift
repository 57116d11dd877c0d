import KVProtocol
import ServerCore

/// Reads a snapshot file whole. Any damage is an error: a snapshot is written, synced
/// and named by a manifest only once complete, so unlike a log's tail it is never
/// legitimately cut short.
public enum SnapshotDecoder {
    public static func decode(_ bytes: [UInt8]) throws(StorageFormatError) -> SnapshotContents {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(StorageFormatError) in try decode(buffer) }
        }.get()
    }

    private static func decode(_ buffer: UnsafeRawBufferPointer) throws(StorageFormatError) -> SnapshotContents {
        var reading = SnapshotReading(buffer)
        let header = try reading.header()
        var contents = SnapshotContents(
            generation: header.generation, lsn: header.lsn, claim: header.claim, start: header.start,
            store: KeyValueStore(),
            duplicates: [])
        // No more than the file could hold, whatever the header says.
        contents.store.reserveCapacity(Int(min(header.keyCount, UInt64(buffer.count / 24))))
        contents.duplicates.reserveCapacity(Int(min(header.duplicateCount, UInt64(buffer.count / 24))))
        var inDuplicates = false
        while true {
            let record = try reading.nextRecord()
            var reader = record.payloadReader(buffer)
            func damage(_ reason: String) -> StorageFormatError {
                StorageFormatError(offset: record.offset, reason: "record \(record.header.lsn): " + reason)
            }
            do {
                switch try reader.payloadType() {
                case .snapshotEntries:
                    guard !inDuplicates else { throw damage("entries after the duplicate-table entries") }
                    let count = try reader.count("entry count", minItemSize: 24)
                    guard UInt64(contents.store.count + count) <= header.keyCount else {
                        throw damage("more entries than the header's \(header.keyCount)")
                    }
                    for _ in 0..<count {
                        let key = try reader.blob("key", max: WireReader.maxBlobSize)
                        let value = StoredValue(
                            value: try reader.blob("value", max: WireReader.maxBlobSize),
                            revision: try reader.u64("revision"), expiresAt: try reader.u64("deadline"))
                        guard contents.store.put(key, value) else { throw damage("key repeated (\(key.count) bytes)") }
                    }
                case .snapshotDuplicates:
                    inDuplicates = true
                    let count = try reader.count("duplicate count", minItemSize: 8 + 8 + 1 + 4)
                    guard UInt64(contents.duplicates.count + count) <= header.duplicateCount else {
                        throw damage("more duplicate-table entries than the header's \(header.duplicateCount)")
                    }
                    for _ in 0..<count { contents.duplicates.append(try reader.duplicateEntry()) }
                case .snapshotEnd:
                    let keyCount = try reader.u64("key count")
                    let duplicateCount = try reader.u64("duplicate count")
                    contents.store.advanceRevision(to: try reader.u64("revision"))
                    try reader.expectEnd()
                    guard keyCount == header.keyCount, duplicateCount == header.duplicateCount else {
                        throw damage(
                            "end record counts \(keyCount) keys, \(duplicateCount) duplicates; the header "
                                + "\(header.keyCount), \(header.duplicateCount)")
                    }
                    guard UInt64(contents.store.count) == keyCount, UInt64(contents.duplicates.count) == duplicateCount
                    else {
                        throw damage(
                            "\(contents.store.count) keys and \(contents.duplicates.count) duplicates read; "
                                + "\(keyCount) and \(duplicateCount) written")
                    }
                    guard record.end == buffer.count else {
                        throw StorageFormatError(
                            offset: record.end, reason: "\(buffer.count - record.end) bytes after the end record")
                    }
                    return contents
                case let other:
                    throw damage("a \(other) record has no place in a snapshot")
                }
                try reader.expectEnd()
            } catch let error as StorageFormatError {
                throw error
            } catch let error as ProtocolError {
                throw StorageFormatError(
                    offset: record.payload.lowerBound + reader.index,
                    reason: "record \(record.header.lsn) does not decode: \(error.detail)")
            } catch {
                preconditionFailure("unexpected error \(error)")
            }
        }
    }
}

/// Walks a snapshot's records in order, checking each one's framing and index.
private struct SnapshotReading {
    let buffer: UnsafeRawBufferPointer
    var offset = 0
    var index: UInt64 = 0

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    mutating func nextRecord() throws(StorageFormatError) -> FramedRecord {
        guard offset < buffer.count else {
            throw StorageFormatError(offset: offset, reason: "the file ends without its end record")
        }
        let record: FramedRecord
        switch FramedRecord.read(buffer, at: offset) {
        case .failure(let problem): throw StorageFormatError(offset: offset, reason: problem.description)
        case .success(let read): record = read
        }
        guard record.header.lsn == index, record.header.batchFirst == 0, record.header.batchLast == 0 else {
            throw StorageFormatError(
                offset: offset,
                reason:
                    "record framed as \(record.header.lsn) (\(record.header.batchFirst)...\(record.header.batchLast))"
                    + ", expected record \(index)")
        }
        offset = record.end
        index += 1
        return record
    }

    mutating func header() throws(StorageFormatError) -> SnapshotHeader {
        let record = try nextRecord()
        var reader = record.payloadReader(buffer)
        do throws(ProtocolError) {
            guard try reader.payloadType() == .snapshotHeader else {
                throw ProtocolError(.malformedFrame, "the first record is not a snapshot header")
            }
            return try SnapshotHeader.decode(&reader)
        } catch {
            throw StorageFormatError(
                offset: record.payload.lowerBound + reader.index, reason: "snapshot header: \(error.detail)")
        }
    }
}
