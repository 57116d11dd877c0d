import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// What an interrupted process or machine leaves in the directory besides the files the
/// manifest names: temporaries of a snapshot or manifest being written, which recovery
/// removes once the manifest it acts on is durable; and damaged files, set aside in a
/// subdirectory that is made durable with what moved into it.
final class LeftoverFileTests: XCTestCase {
    private let start = ServerStart(incarnation: 1, bootID: [UInt8](repeating: 1, count: 16), policy: .always)

    private func open(_ fileSystem: MemoryFileSystem, incarnation: UInt64) throws -> StorageEngine<MemoryFileSystem> {
        let engine = StorageEngine(fileSystem: fileSystem, policy: .always)
        var start = start
        start.incarnation = incarnation
        let opening = try engine.open(start: start, duplicateCapacity: 10, setAsideName: "damaged-\(incarnation)")
        XCTAssertNil(opening.damage, opening.report)
        return engine
    }

    /// The machine crashed while a compaction's snapshot was being written (and while a
    /// manifest was): the snapshot's generation is that of the log the compaction began,
    /// which the manifest names, so no later compaction reuses the name; recovery must
    /// remove the temporaries, and only after the directory sync that makes the manifest
    /// it read durable.
    func testACrashDuringACompactionLeavesNoTemporaryBehind() throws {
        let fileSystem = MemoryFileSystem()
        let engine = try open(fileSystem, incarnation: 1)
        try engine.append([LogEntry(lsn: 2, record: setRecord("k", "v"))])
        try engine.sync()
        let generation = try engine.beginSnapshot(lsn: 2)
        let snapshotTemporary = DataFileName.snapshotTemporary(generation: generation)
        XCTAssertEqual(snapshotTemporary, "snapshot-\(String(repeating: "0", count: 15))\(generation).kvs.tmp")
        fileSystem.files[snapshotTemporary] = [1, 2, 3]
        fileSystem.files[DataFileName.manifestTemporary] = [4, 5]
        fileSystem.operations.removeAll()

        let reopened = try open(fileSystem, incarnation: 2)
        XCTAssertNil(fileSystem.files[snapshotTemporary])
        XCTAssertNil(fileSystem.files[DataFileName.manifestTemporary])
        let firstSync = try XCTUnwrap(fileSystem.operations.firstIndex(of: "syncDirectory"))
        for name in [snapshotTemporary, DataFileName.manifestTemporary] {
            let removal = try XCTUnwrap(fileSystem.operations.firstIndex(of: "remove \(name)"))
            XCTAssertLessThan(firstSync, removal, "\(fileSystem.operations)")
            XCTAssertTrue(fileSystem.operations[removal...].contains("syncDirectory"), "\(fileSystem.operations)")
        }
        // The compaction can still run to its end with the same name.
        let state = SnapshotState(lsn: 3, store: [b("k"): b("v")], duplicates: [], claim: nil)
        let next = try reopened.beginSnapshot(lsn: 3)
        let bytes = try StorageEngine.writeSnapshot(
            state, start: reopened.currentStart, generation: next, to: fileSystem)
        try reopened.installSnapshot(generation: next, lsn: 3, bytes: bytes)
        XCTAssertEqual(try fileSystem.fileNames().filter { $0.hasSuffix(".tmp") }, [])
    }

    /// A directory holding no manifest and only temporaries holds nothing: it starts
    /// fresh, without them.
    func testAFreshStartRemovesStrayTemporaries() throws {
        let fileSystem = MemoryFileSystem()
        let snapshotTemporary = DataFileName.snapshotTemporary(generation: 3)
        fileSystem.files[snapshotTemporary] = [1]
        fileSystem.files[DataFileName.manifestTemporary] = [2]
        fileSystem.files["notes.txt"] = [3]
        _ = try open(fileSystem, incarnation: 1)
        XCTAssertNil(fileSystem.files[snapshotTemporary])
        XCTAssertNil(fileSystem.files[DataFileName.manifestTemporary])
        XCTAssertEqual(fileSystem.files["notes.txt"], [3], "a file of another name is not the format's to remove")
    }

    func testTemporaryNames() {
        XCTAssertTrue(DataFileName.isTemporary("MANIFEST.tmp"))
        XCTAssertTrue(DataFileName.isTemporary("snapshot-000000000000002a.kvs.tmp"))
        for name in [
            "MANIFEST", "snapshot-000000000000002a.kvs", "log-000000000000002a.kvl.tmp", "snapshot-2a.kvs.tmp",
            "log-000000000000002a.kvl.torn-7", "view.tmp", ".tmp",
        ] {
            XCTAssertFalse(DataFileName.isTemporary(name), name)
        }
    }

    /// Damage moves every file of the format into a new subdirectory: its entry is synced
    /// in the data directory before anything moves into it (else a crash could keep the
    /// moves and lose the directory holding them), and after the moves both the
    /// subdirectory and the data directory are synced. Temporaries and the failure marker
    /// move too.
    func testSettingDamageAsideSyncsTheNewDirectoryAndWhatMovedIntoIt() throws {
        let fileSystem = MemoryFileSystem()
        _ = try open(fileSystem, incarnation: 1)
        fileSystem.files["MANIFEST"] = [0xFF]
        let snapshotTemporary = DataFileName.snapshotTemporary(generation: 9)
        fileSystem.files[snapshotTemporary] = [1]
        fileSystem.files[DataFileName.failureMarker] = Array("\n1\n".utf8)
        fileSystem.operations.removeAll()

        let engine = StorageEngine(fileSystem: fileSystem, policy: .always)
        var second = start
        second.incarnation = 2
        let opening = try engine.open(start: second, duplicateCapacity: 10, setAsideName: "damaged-2")
        XCTAssertNotNil(opening.damage)
        let operations = fileSystem.operations
        let made = try XCTUnwrap(operations.firstIndex(of: "mkdir damaged-2"), "\(operations)")
        let moves = operations.indices.filter {
            operations[$0].hasPrefix("rename ") && operations[$0].contains(" damaged-2/")
        }
        let firstMove = try XCTUnwrap(moves.first, "\(operations)")
        let lastMove = try XCTUnwrap(moves.last)
        XCTAssertTrue(operations[made..<firstMove].contains("syncDirectory"), "\(operations)")
        let subdirectorySync = try XCTUnwrap(operations.firstIndex(of: "syncSubdirectory damaged-2"), "\(operations)")
        XCTAssertLessThan(lastMove, subdirectorySync, "\(operations)")
        XCTAssertTrue(operations[lastMove...].contains("syncDirectory"), "\(operations)")
        for name in ["MANIFEST", snapshotTemporary, DataFileName.failureMarker] {
            XCTAssertNotNil(fileSystem.files["damaged-2/\(name)"], name)
        }
    }
}
