import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// A compaction runs in three steps (`beginSnapshot`, `writeSnapshot` on another thread,
/// `installSnapshot`); a completed transfer (`replace`) may come in between.
final class CompactionTests: XCTestCase {
    private let start = ServerStart(incarnation: 1, bootID: [UInt8](repeating: 1, count: 16), policy: .always)

    private func update(_ key: String, _ value: String, seq: UInt64, revision: UInt64) -> LogRecord {
        setRecord(key, value, client: 7, seq: seq, revision: revision)
    }

    /// A transfer completed while a compaction's snapshot was being written: installing
    /// that snapshot afterwards would name a state older than the transfer's, and a log
    /// that begins after it (recovery found "the records between are missing").
    func testATransferCompletedDuringACompactionWins() throws {
        let fileSystem = MemoryFileSystem()
        let engine = StorageEngine(fileSystem: fileSystem, policy: .always)
        _ = try engine.open(start: start, duplicateCapacity: 10, setAsideName: "damaged")
        try engine.append([LogEntry(lsn: 2, record: update("k", "old", seq: 1, revision: 1))])
        try engine.sync()
        let compacted = SnapshotState(lsn: 2, store: [b("k"): b("old")], duplicates: [], claim: nil)
        let generation = try engine.beginSnapshot(lsn: 2)
        let claim = StateClaim(role: .backup, viewnum: 3, primary: "p", backup: "s")
        // The transfer's primary was at revision 6: its store, not the compacted one, goes on.
        try engine.replace(
            with: SnapshotState(
                lsn: 3, store: keyValueStore([("k", "transferred", 5)], revision: 6), duplicates: [], claim: claim))
        try engine.append([LogEntry(lsn: 4, record: update("k", "after", seq: 2, revision: 7))])
        try engine.sync()
        let bytes = try StorageEngine.writeSnapshot(
            compacted, start: engine.currentStart, generation: generation, to: fileSystem)
        try engine.installSnapshot(generation: generation, lsn: 2, bytes: bytes)

        guard case .recovered(let state) = try Recovery.recover(from: fileSystem, duplicateCapacity: 10) else {
            return XCTFail("not recovered: \(try Recovery.recover(from: fileSystem, duplicateCapacity: 10))")
        }
        XCTAssertEqual(state.store, keyValueStore([("k", "after", 7)], revision: 7))
        XCTAssertEqual(state.lastLSN, 4)
        XCTAssertEqual(state.claim, claim)
        XCTAssertEqual(state.unreferencedFiles, [], "the dropped compaction's snapshot is left behind")
    }
}
