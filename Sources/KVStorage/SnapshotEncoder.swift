import KVProtocol
import ServerCore

/// Writes a snapshot file as a stream of byte chunks (docs/STORAGE.md, "Snapshot files"):
/// a header record, records of entries, records of duplicate-table entries, an end record.
/// Framing lsns count the records from 0.
///
/// Entries are added one by one and packed into records of about 64 KiB of payload, and
/// finished records are taken with `takeBytes()` whenever the caller likes: a snapshot
/// of a million keys never exists as anything but its output.
///
///     var encoder = SnapshotEncoder(generation: 7, lsn: 1234, claim: claim, start: start,
///                                   keyCount: store.count, duplicateCount: duplicates.count,
///                                   revision: store.revision)
///     store.forEachEntry { key, value in
///         encoder.addEntry(key: key, value: value)
///         if encoder.bufferedByteCount >= 1 << 20 { try file.write(encoder.takeBytes()) }
///     }
///     for entry in duplicates { encoder.addDuplicate(entry) }
///     encoder.finish()
///     try file.write(encoder.takeBytes())
public struct SnapshotEncoder {
    /// About how many payload bytes each entries or duplicates record holds.
    public static let recordPayloadTarget = 64 * 1024

    private let header: SnapshotHeader
    private var records: FramedRecordWriter
    private var nextRecordIndex: UInt64 = 0
    private var pendingEntries: [(key: Bytes, value: StoredValue)] = []
    private let revision: UInt64
    private var pendingDuplicates: [DuplicateEntry] = []
    private var pendingPayloadSize = 0
    private var entriesAdded: UInt64 = 0
    private var duplicatesAdded: UInt64 = 0
    private var phase = Phase.entries

    private enum Phase {
        case entries, duplicates, finished
    }

    /// Size of a record's type byte and count: what a record costs before its items.
    private static let recordPreamble = 1 + 4
    /// What the caller is likely to take at a time, to size the buffer once.
    private static let initialCapacity = 2 * (RecordLayout.headerSize + recordPayloadTarget)

    /// `keyCount` and `duplicateCount` are recorded in the header (a reader reserves room
    /// from them) and must be exactly what is added.
    public init(
        generation: UInt64, lsn: UInt64, claim: StateClaim?, start: ServerStart?, keyCount: Int, duplicateCount: Int,
        revision: UInt64
    ) {
        self.revision = revision
        header = SnapshotHeader(
            generation: generation, lsn: lsn, claim: claim, start: start, keyCount: UInt64(keyCount),
            duplicateCount: UInt64(duplicateCount))
        records = FramedRecordWriter(capacity: Self.initialCapacity)
        beginRecord()
        header.encode(into: &records.payload)
        records.endRecord()
    }

    /// Bytes of finished records not yet taken.
    public var bufferedByteCount: Int { records.byteCount }

    /// The finished records not yet taken.
    public mutating func takeBytes() -> [UInt8] {
        records.takeBytes(nextCapacity: phase == .finished ? 0 : Self.initialCapacity)
    }

    public mutating func addEntry(key: Bytes, value: StoredValue) {
        precondition(phase == .entries, "every entry comes before the duplicate-table entries")
        entriesAdded += 1
        precondition(entriesAdded <= header.keyCount, "more entries than the header's key count")
        pendingEntries.append((key, value))
        pendingPayloadSize += 24 + key.count + value.value.count
        if pendingPayloadSize >= Self.recordPayloadTarget { flushEntries() }
    }

    /// Adds the duplicate-table entries in `entriesInOrder()` order, so that the table
    /// rebuilt from them forgets clients in the same order.
    public mutating func addDuplicate(_ entry: DuplicateEntry) {
        if phase == .entries {
            flushEntries()
            phase = .duplicates
        }
        precondition(phase == .duplicates, "the snapshot is finished")
        duplicatesAdded += 1
        precondition(duplicatesAdded <= header.duplicateCount, "more duplicates than the header's count")
        pendingDuplicates.append(entry)
        pendingPayloadSize += entry.encodedSize
        if pendingPayloadSize >= Self.recordPayloadTarget { flushDuplicates() }
    }

    /// Writes what is pending and the end record. Take the bytes after it.
    public mutating func finish() {
        precondition(phase != .finished, "the snapshot is already finished")
        precondition(entriesAdded == header.keyCount, "\(entriesAdded) entries added, \(header.keyCount) announced")
        precondition(
            duplicatesAdded == header.duplicateCount,
            "\(duplicatesAdded) duplicates added, \(header.duplicateCount) announced")
        flushEntries()
        flushDuplicates()
        phase = .finished
        beginRecord()
        records.payload.u8(PayloadType.snapshotEnd.rawValue)
        records.payload.u64(header.keyCount)
        records.payload.u64(header.duplicateCount)
        records.payload.u64(revision)
        records.endRecord()
    }

    /// A whole snapshot in one buffer: for small states, and for tests.
    public static func encode(
        store: KeyValueStore, duplicates: [DuplicateEntry], generation: UInt64, lsn: UInt64, claim: StateClaim?,
        start: ServerStart?
    ) -> [UInt8] {
        var encoder = SnapshotEncoder(
            generation: generation, lsn: lsn, claim: claim, start: start, keyCount: store.count,
            duplicateCount: duplicates.count, revision: store.revision)
        store.forEachEntry { encoder.addEntry(key: $0, value: $1) }
        for entry in duplicates { encoder.addDuplicate(entry) }
        encoder.finish()
        return encoder.takeBytes()
    }

    private mutating func beginRecord() {
        records.beginRecord(lsn: nextRecordIndex, batchFirst: 0, batchLast: 0)
        nextRecordIndex += 1
    }

    private mutating func flushEntries() {
        guard !pendingEntries.isEmpty else { return }
        beginRecord()
        records.payload.u8(PayloadType.snapshotEntries.rawValue)
        records.payload.u32(UInt32(pendingEntries.count))
        for entry in pendingEntries {
            records.payload.blob(entry.key)
            records.payload.append(entry.value)
        }
        records.endRecord()
        pendingEntries.removeAll(keepingCapacity: true)
        pendingPayloadSize = 0
    }

    private mutating func flushDuplicates() {
        guard !pendingDuplicates.isEmpty else { return }
        beginRecord()
        records.payload.u8(PayloadType.snapshotDuplicates.rawValue)
        records.payload.u32(UInt32(pendingDuplicates.count))
        for entry in pendingDuplicates { records.payload.append(entry) }
        records.endRecord()
        pendingDuplicates.removeAll(keepingCapacity: true)
        pendingPayloadSize = 0
    }
}
