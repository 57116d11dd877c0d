import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// Under `always` a write follows only synced writes, which is how recovery tells a write
/// cut short by a crash from damage (docs/STORAGE.md, "Torn tail or damage") — across
/// process starts too.
final class RestartAfterUnsyncedWriteTests: XCTestCase {
    private func start(_ incarnation: UInt64) -> ServerStart {
        ServerStart(incarnation: incarnation, bootID: [UInt8](repeating: 1, count: 16), policy: .always)
    }

    /// A process dies between its write and the write's fdatasync; the page cache keeps
    /// the write, and the next process recovers it. That process's first write (its start
    /// record) must wait for the earlier write to be synced: a machine crash before the
    /// start record's sync could otherwise keep the start record and lose a sector of the
    /// earlier write, and recovery would find damage (found by the simulator, seed 8622 of
    /// 3001...30000).
    func testTheNextProcessSyncsWhatTheLastOneWroteBeforeWritingItself() throws {
        let fileSystem = MemoryFileSystem()
        let first = StorageEngine(fileSystem: fileSystem, policy: .always)
        _ = try first.open(start: start(1), duplicateCapacity: 10, setAsideName: "damaged")
        let update = ForwardedUpdate(
            change: .put(b("k"), StoredValue(value: b("v"), revision: 0)), revision: 0, clientID: 7, seq: 1,
            reply: ClientReply(status: .ok))
        try first.append([LogEntry(lsn: 2, record: .record(.update(update)))])
        // The process dies here, before its sync.
        let second = StorageEngine(fileSystem: fileSystem, policy: .always)
        let opening = try second.open(start: start(2), duplicateCapacity: 10, setAsideName: "damaged")
        XCTAssertEqual(opening.recovered.store, [b("k"): b("v")])
        XCTAssertEqual(fileSystem.writesAfterUnsyncedWrites, [])
    }
}
