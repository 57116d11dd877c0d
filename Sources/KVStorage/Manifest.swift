import KVProtocol

/// The contents of `MANIFEST`: which snapshot and which logs, in order, make up the data
/// directory's state (docs/STORAGE.md, "The manifest"). Any other snapshot or log file
/// in the directory is a leftover and holds nothing recovery needs.
public struct Manifest: Equatable, Sendable {
    /// A snapshot file, and the lsn it holds the state after.
    public struct SnapshotReference: Equatable, Sendable {
        public var generation: UInt64
        public var lsn: UInt64

        public init(generation: UInt64, lsn: UInt64) {
            self.generation = generation
            self.lsn = lsn
        }

        public var fileName: String { DataFileName.snapshot(generation: generation).fileName }
    }

    /// A log file, and the lsn its first record carries.
    public struct LogReference: Equatable, Sendable {
        public var generation: UInt64
        public var firstLSN: UInt64

        public init(generation: UInt64, firstLSN: UInt64) {
            self.generation = generation
            self.firstLSN = firstLSN
        }

        public var fileName: String { DataFileName.log(generation: generation).fileName }
    }

    /// Grows with every manifest written.
    public var generation: UInt64
    public var snapshot: SnapshotReference?
    /// Replayed in this order after the snapshot; the writer appends to the last one.
    public var logs: [LogReference]

    public init(generation: UInt64, snapshot: SnapshotReference?, logs: [LogReference]) {
        self.generation = generation
        self.snapshot = snapshot
        self.logs = logs
    }

    /// The whole file: one record, framed as lsn 0.
    public func encode() -> [UInt8] {
        var writer = FramedRecordWriter(capacity: RecordLayout.headerSize + 40 + 16 * logs.count)
        writer.beginRecord(lsn: 0, batchFirst: 0, batchLast: 0)
        writer.payload.u8(PayloadType.manifest.rawValue)
        writer.payload.u16(FormatVersion.current)
        writer.payload.u64(generation)
        writer.payload.appendOptional(snapshot) { writer, snapshot in
            writer.u64(snapshot.generation)
            writer.u64(snapshot.lsn)
        }
        writer.payload.u32(UInt32(logs.count))
        for log in logs {
            writer.payload.u64(log.generation)
            writer.payload.u64(log.firstLSN)
        }
        writer.endRecord()
        return writer.takeBytes()
    }

    public static func decode(_ bytes: [UInt8]) throws(StorageFormatError) -> Manifest {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(StorageFormatError) in try decode(buffer) }
        }.get()
    }

    private static func decode(_ buffer: UnsafeRawBufferPointer) throws(StorageFormatError) -> Manifest {
        let record: FramedRecord
        switch FramedRecord.read(buffer, at: 0) {
        case .failure(let problem): throw StorageFormatError(offset: 0, reason: problem.description)
        case .success(let read): record = read
        }
        guard record.header.lsn == 0, record.header.batchFirst == 0, record.header.batchLast == 0 else {
            throw StorageFormatError(offset: 0, reason: "manifest record framed as lsn \(record.header.lsn)")
        }
        guard record.end == buffer.count else {
            throw StorageFormatError(offset: record.end, reason: "\(buffer.count - record.end) bytes after the record")
        }
        var reader = record.payloadReader(buffer)
        do throws(ProtocolError) {
            guard try reader.payloadType() == .manifest else {
                throw ProtocolError(.malformedFrame, "not a manifest record")
            }
            let version = try reader.u16("format version")
            guard version == FormatVersion.current else {
                throw ProtocolError(.malformedFrame, "unknown format version \(version)")
            }
            let generation = try reader.u64("generation")
            let snapshot = try reader.optional("has snapshot") { (reader) throws(ProtocolError) in
                SnapshotReference(
                    generation: try reader.u64("snapshot generation"), lsn: try reader.u64("snapshot lsn"))
            }
            let count = try reader.count("log count", minItemSize: 16)
            var logs: [LogReference] = []
            logs.reserveCapacity(count)
            for _ in 0..<count {
                logs.append(
                    LogReference(generation: try reader.u64("log generation"), firstLSN: try reader.u64("first lsn")))
            }
            try reader.expectEnd()
            return Manifest(generation: generation, snapshot: snapshot, logs: logs)
        } catch {
            throw StorageFormatError(offset: record.payload.lowerBound + reader.index, reason: error.detail)
        }
    }
}
