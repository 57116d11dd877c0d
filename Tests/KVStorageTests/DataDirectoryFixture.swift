import KVProtocol
import KVStorage
import ServerCore

/// A data directory made from one history of records (lsn 1, 2, ...): an optional
/// snapshot of the state after some lsn, and logs holding ranges of the history.
struct DataDirectoryFixture {
    var records: [LogRecord]
    var directory = MemoryDirectory()
    var manifest = Manifest(generation: 1, snapshot: nil, logs: [])
    var nextGeneration: UInt64 = 1

    init(records: [LogRecord]) {
        self.records = records
    }

    func record(_ lsn: UInt64) -> LogRecord { records[Int(lsn) - 1] }

    /// The state after applying lsn 1...`lsn` directly, as the server did.
    func applied(through lsn: UInt64, duplicateCapacity: Int = 1000) -> AppliedState {
        var state = AppliedState(duplicateCapacity: duplicateCapacity)
        for record in records.prefix(Int(lsn)) { state.apply(record) }
        return state
    }

    func claim(through lsn: UInt64) -> StateClaim? {
        records.prefix(Int(lsn)).reduce(nil) { claim, record in
            if case .record(.claim(let next)) = record { return next }
            return claim
        }
    }

    func start(through lsn: UInt64) -> ServerStart? {
        records.prefix(Int(lsn)).reduce(nil) { start, record in
            if case .start(let next) = record { return next }
            return start
        }
    }

    mutating func addSnapshot(at lsn: UInt64) {
        let generation = nextGeneration
        nextGeneration += 1
        let state = applied(through: lsn)
        directory.files[DataFileName.snapshot(generation: generation).fileName] = SnapshotEncoder.encode(
            store: state.store, duplicates: state.duplicates.entriesInOrder(), generation: generation, lsn: lsn,
            claim: claim(through: lsn), start: start(through: lsn))
        manifest.snapshot = Manifest.SnapshotReference(generation: generation, lsn: lsn)
        directory.files["MANIFEST"] = manifest.encode()
    }

    /// A log holding `lsns`, in writes of `writeSize` records.
    @discardableResult
    mutating func addLog(_ lsns: ClosedRange<UInt64>, writeSize: Int = 2) -> LogFileBuilder {
        let generation = nextGeneration
        nextGeneration += 1
        var log = LogFileBuilder(generation: generation, firstLSN: lsns.lowerBound)
        var lsn = lsns.lowerBound
        while lsn <= lsns.upperBound {
            let last = min(lsn + UInt64(writeSize) - 1, lsns.upperBound)
            log.write((lsn...last).map { record($0) })
            lsn = last + 1
        }
        directory.files[log.fileName] = log.bytes
        manifest.logs.append(Manifest.LogReference(generation: generation, firstLSN: lsns.lowerBound))
        directory.files["MANIFEST"] = manifest.encode()
        return log
    }

    /// An empty log that starts at `firstLSN`.
    mutating func addEmptyLog(firstLSN: UInt64) {
        let generation = nextGeneration
        nextGeneration += 1
        let log = LogFileBuilder(generation: generation, firstLSN: firstLSN)
        directory.files[log.fileName] = log.bytes
        manifest.logs.append(Manifest.LogReference(generation: generation, firstLSN: firstLSN))
        directory.files["MANIFEST"] = manifest.encode()
    }

    func recover(duplicateCapacity: Int = 1000, bootID: [UInt8]? = nil) throws -> RecoveryOutcome {
        try directory.recover(duplicateCapacity: duplicateCapacity, bootID: bootID)
    }
}

/// Twelve records: updates from a few clients (some overwriting, one deleting), a start,
/// and claims.
let sampleHistory: [LogRecord] = [
    .start(start(1)),  // 1
    setRecord("a", "1", client: 1, seq: 1),  // 2
    setRecord("b", "2", client: 2, seq: 1),  // 3
    claimRecord(.backup, 4),  // 4
    setRecord("a", "11", client: 1, seq: 2),  // 5
    setRecord("c", "3", client: 3, seq: 1),  // 6
    deleteRecord("b", client: 2, seq: 2),  // 7
    setRecord("d", "", client: 4, seq: 1),  // 8
    claimRecord(.primary, 9),  // 9
    setRecord("", "empty key", client: 1, seq: 3),  // 10
    .start(start(2, policy: .everysec)),  // 11
    setRecord("c", "33", client: 5, seq: 1, reply: ClientReply(status: .ok, value: b("3"))),  // 12
]
