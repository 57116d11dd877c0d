import KVProtocol
import KVStorage
import ServerCore

func b(_ text: String) -> Bytes { Bytes(utf8: text) }

/// A put of `key` by `client`, as a primary numbers it: `revision` is the store's next.
/// Revision 0 is what a 0.1 primary's forward carries, which the store numbers itself.
func setRecord(
    _ key: String, _ value: String, client: UInt64 = 1, seq: UInt64 = 1, revision: UInt64 = 0,
    reply: ClientReply = ClientReply(status: .ok)
) -> LogRecord {
    .record(
        .update(
            ForwardedUpdate(
                change: .put(b(key), StoredValue(value: b(value), revision: revision)), revision: revision,
                clientID: client, seq: seq, reply: reply)))
}

func deleteRecord(_ key: String, client: UInt64 = 1, seq: UInt64 = 1, revision: UInt64 = 0) -> LogRecord {
    .record(
        .update(
            ForwardedUpdate(
                change: .delete(b(key)), revision: revision, clientID: client, seq: seq,
                reply: ClientReply(status: .ok))))
}

/// A store holding these keys (no deadlines), each with its own revision, and the
/// store's revision, which may be above every key's.
func keyValueStore(_ entries: [(key: String, value: String, revision: UInt64)], revision: UInt64) -> KeyValueStore {
    var store = KeyValueStore()
    for entry in entries { store.put(b(entry.key), StoredValue(value: b(entry.value), revision: entry.revision)) }
    store.advanceRevision(to: revision)
    return store
}

func claimRecord(_ role: StateClaim.Role, _ viewnum: UInt64) -> LogRecord {
    .record(.claim(StateClaim(role: role, viewnum: viewnum, primary: "p:1", backup: "b:2")))
}

func start(_ incarnation: UInt64, policy: FsyncPolicy = .always) -> ServerStart {
    ServerStart(
        incarnation: incarnation, bootID: (0..<16).map { UInt8($0) &+ UInt8(truncatingIfNeeded: incarnation) },
        policy: policy)
}

/// A log file built write by write, remembering where each write lies.
struct LogFileBuilder {
    struct Write {
        var start: Int
        var end: Int
        var firstLSN: UInt64
        var lastLSN: UInt64
        /// Where each record of the write starts.
        var recordStarts: [Int]
    }

    let generation: UInt64
    let firstLSN: UInt64
    var bytes: [UInt8]
    var nextLSN: UInt64
    var writes: [Write] = []
    var entries: [LogEntry] = []

    init(generation: UInt64 = 1, firstLSN: UInt64 = 1) {
        self.generation = generation
        self.firstLSN = firstLSN
        bytes = LogEncoder.encodeLogHeader(generation: generation, firstLSN: firstLSN)
        nextLSN = firstLSN
    }

    var headerEnd: Int { writes.first?.start ?? bytes.count }

    mutating func write(_ records: [LogRecord]) {
        let batch = records.enumerated().map { LogEntry(lsn: nextLSN + UInt64($0.offset), record: $0.element) }
        let start = bytes.count
        var recordStarts: [Int] = []
        var offset = start
        for entry in batch {
            recordStarts.append(offset)
            var one: [UInt8] = []
            LogEncoder.encodeBatch([entry], into: &one)
            offset += one.count
        }
        LogEncoder.encodeBatch(batch, into: &bytes)
        writes.append(
            Write(
                start: start, end: bytes.count, firstLSN: nextLSN, lastLSN: nextLSN + UInt64(records.count - 1),
                recordStarts: recordStarts))
        entries += batch
        nextLSN += UInt64(records.count)
    }

    var fileName: String { DataFileName.log(generation: generation).fileName }

    func scan(_ bytes: [UInt8]? = nil) -> LogScanResult {
        LogScan.scan(bytes ?? self.bytes, generation: generation, expectedFirstLSN: firstLSN)
    }
}

/// A data directory held in memory.
struct MemoryDirectory: DataDirectoryReader {
    var files: [String: [UInt8]] = [:]

    func fileNames() throws -> [String] { Array(files.keys) }

    func contents(of name: String) throws -> [UInt8]? { files[name] }

    func recover(duplicateCapacity: Int = 1000, bootID: [UInt8]? = nil) throws -> RecoveryOutcome {
        try Recovery.recover(from: self, duplicateCapacity: duplicateCapacity, bootID: bootID)
    }
}

/// What the server holds after applying updates, as `ServerCore.applyUpdate` does:
/// the reference recovery is compared with.
struct AppliedState {
    var store = KeyValueStore()
    var duplicates: DuplicateTable

    init(duplicateCapacity: Int = 1000) {
        duplicates = DuplicateTable(capacity: duplicateCapacity)
    }

    mutating func apply(_ record: LogRecord) {
        guard case .record(.update(let update)) = record else { return }
        store.apply(update.change, revision: update.revision)
        if update.clientID != ForwardedUpdate.noClient {
            duplicates.record(clientID: update.clientID, seq: update.seq, reply: update.reply)
        }
    }
}

/// An independent framing of one record, written from docs/STORAGE.md rather than with
/// the encoder: to check the encoder's bytes, and to craft records no encoder writes.
func framedRecord(payload: [UInt8], lsn: UInt64, batchFirst: UInt64, batchLast: UInt64) -> [UInt8] {
    let checksummed =
        littleEndian(UInt32(payload.count)) + littleEndian(lsn) + littleEndian(batchFirst)
        + littleEndian(batchLast) + payload
    var record = littleEndian(CRC32C.checksum(checksummed)) + checksummed
    while record.count % 8 != 0 { record.append(0) }
    return record
}

func littleEndian<Integer: FixedWidthInteger>(_ value: Integer) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// The payloads' integers, as `WireWriter` writes them.
func bigEndian(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

func bigEndian32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

extension RecoveryOutcome {
    var recovered: RecoveredState? {
        if case .recovered(let state) = self { return state }
        return nil
    }

    var damage: StorageDamage? {
        if case .damaged(let damage) = self { return damage }
        return nil
    }

    var isFresh: Bool {
        if case .fresh = self { return true }
        return false
    }
}
