import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// A write refused for want of space (ENOSPC, EDQUOT) is undone and reported as
/// `DiskFull`: nothing half written stays, and the same work succeeds once there is space.
final class DiskFullTests: XCTestCase {
    private func opened(_ fileSystem: MemoryFileSystem) throws -> StorageEngine<MemoryFileSystem> {
        let engine = StorageEngine(fileSystem: fileSystem, policy: .always)
        _ = try engine.open(start: start(1), duplicateCapacity: 10, setAsideName: "damaged")
        return engine
    }

    private func recovered(_ fileSystem: MemoryFileSystem) throws -> RecoveredState {
        let result = try Recovery.recover(from: fileSystem, duplicateCapacity: 10)
        guard case .recovered(let state) = result else { throw Unexpected(result: "\(result)") }
        return state
    }

    private struct Unexpected: Error {
        var result: String
    }

    func testAFullDiskCutsTheLogBackAndTheSameRecordsGoInOnceThereIsSpace() throws {
        let fileSystem = MemoryFileSystem()
        let engine = try opened(fileSystem)
        try engine.append([LogEntry(lsn: 2, record: setRecord("a", "1", revision: 1))])
        try engine.sync()
        let before = fileSystem.files
        for space in [0, 1, 9, 30] {
            fileSystem.spaceLeft = space
            XCTAssertThrowsError(
                try engine.append([
                    LogEntry(lsn: 3, record: setRecord("b", "2", seq: 2, revision: 2)),
                    LogEntry(lsn: 4, record: setRecord("c", "3", seq: 3, revision: 3)),
                ])
            ) { XCTAssertTrue($0 is DiskFull, "\($0)") }
            XCTAssertEqual(fileSystem.files, before, "a partial write stays after \(space) bytes fitted")
            XCTAssertEqual(engine.lastWritten, 2)
        }
        fileSystem.spaceLeft = nil
        try engine.append([
            LogEntry(lsn: 3, record: setRecord("b", "2", seq: 2, revision: 2)),
            LogEntry(lsn: 4, record: setRecord("c", "3", seq: 3, revision: 3)),
        ])
        try engine.sync()
        let state = try recovered(fileSystem)
        XCTAssertEqual(state.lastLSN, 4)
        XCTAssertEqual(state.store, keyValueStore([("a", "1", 1), ("b", "2", 2), ("c", "3", 3)], revision: 3))
        XCTAssertNil(state.tornTail)
    }

    /// Every step of a compaction may find the disk full: each leaves the directory as
    /// recovery reads it whole, with no temporary behind, and writing goes on.
    func testACompactionThatFindsTheDiskFullIsAbandoned() throws {
        let fileSystem = MemoryFileSystem()
        let engine = try opened(fileSystem)
        try engine.append([LogEntry(lsn: 2, record: setRecord("a", "1", revision: 1))])
        try engine.sync()
        let state = SnapshotState(
            lsn: 2, store: keyValueStore([("a", "1", 1)], revision: 1), duplicates: [], claim: nil)

        let before = fileSystem.files
        for space in [0, 20, 60] {
            fileSystem.spaceLeft = space
            XCTAssertThrowsError(try engine.beginSnapshot(lsn: 2)) { XCTAssertTrue($0 is DiskFull, "\($0)") }
            XCTAssertEqual(fileSystem.files, before, "beginSnapshot left files behind with \(space) bytes free")
        }
        fileSystem.spaceLeft = nil
        let generation = try engine.beginSnapshot(lsn: 2)
        fileSystem.spaceLeft = 10
        XCTAssertThrowsError(
            try StorageEngine.writeSnapshot(state, start: engine.currentStart, generation: generation, to: fileSystem)
        ) { XCTAssertTrue($0 is DiskFull, "\($0)") }
        XCTAssertEqual(try recovered(fileSystem).temporaryFiles, [])

        fileSystem.spaceLeft = nil
        let bytes = try StorageEngine.writeSnapshot(
            state, start: engine.currentStart, generation: generation, to: fileSystem)
        fileSystem.spaceLeft = 0
        XCTAssertThrowsError(try engine.installSnapshot(generation: generation, lsn: 2, bytes: bytes)) {
            XCTAssertTrue($0 is DiskFull, "\($0)")
        }
        fileSystem.spaceLeft = nil
        try engine.append([LogEntry(lsn: 3, record: setRecord("b", "2", seq: 2, revision: 2))])
        try engine.sync()
        let after = try recovered(fileSystem)
        XCTAssertEqual(after.store, keyValueStore([("a", "1", 1), ("b", "2", 2)], revision: 2))
        XCTAssertEqual(after.lastLSN, 3)
        XCTAssertEqual(after.temporaryFiles, [])
        XCTAssertEqual(after.unreferencedFiles, [], "the abandoned snapshot is left behind")
    }

    /// A transfer's replacing snapshot that finds the disk full at any byte leaves the
    /// state before it whole, and succeeds once there is space.
    func testAReplaceThatFindsTheDiskFullLeavesThePreviousStateWhole() throws {
        let fileSystem = MemoryFileSystem()
        let engine = try opened(fileSystem)
        try engine.append([LogEntry(lsn: 2, record: setRecord("a", "old"))])
        try engine.sync()
        let claim = StateClaim(role: .backup, viewnum: 3, primary: "p", backup: "s")
        let replacing = SnapshotState(
            lsn: 5, store: [b("a"): b("new"), b("z"): b(String(repeating: "z", count: 300))], duplicates: [],
            claim: claim)
        let before = fileSystem.files
        var refusals = 0
        // Space for ever more of it: the snapshot, the new log, the manifest each fail.
        for space in stride(from: 0, to: 2000, by: 7) {
            fileSystem.spaceLeft = space
            do {
                try engine.replace(with: replacing)
                break
            } catch is DiskFull {
                refusals += 1
                XCTAssertEqual(fileSystem.files, before, "a replace refused after \(space) bytes left files behind")
                XCTAssertEqual(engine.lastWritten, 2)
                XCTAssertEqual(try recovered(fileSystem).store, [b("a"): b("old")])
            }
        }
        fileSystem.spaceLeft = nil
        XCTAssertEqual(engine.lastWritten, 5, "the replace never had space enough")
        XCTAssertGreaterThan(refusals, 50)
        try engine.append([LogEntry(lsn: 6, record: setRecord("b", "after", seq: 2))])
        try engine.sync()
        let state = try recovered(fileSystem)
        XCTAssertEqual(state.store.value(b("a")), b("new"))
        XCTAssertEqual(state.store.value(b("b")), b("after"))
        XCTAssertEqual(state.claim, claim)
        XCTAssertEqual(state.lastLSN, 6)
    }
}
