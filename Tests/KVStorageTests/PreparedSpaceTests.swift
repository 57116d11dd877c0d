import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// Under `always` the log's file is extended with zeros ahead of its records, so that a
/// write's fdatasync need not commit a new file size (docs/STORAGE.md, "Prepared space").
final class PreparedSpaceTests: XCTestCase {
    private let room = 4096
    private let logName = DataFileName.log(generation: 1).fileName

    private func start(_ incarnation: UInt64) -> ServerStart {
        ServerStart(incarnation: incarnation, bootID: [UInt8](repeating: 1, count: 16), policy: .always)
    }

    private func update(_ key: String, _ seq: UInt64) -> LogRecord {
        setRecord(key, String(repeating: "v", count: 100), client: 7, seq: seq, revision: seq)
    }

    private func open(_ fileSystem: MemoryFileSystem, _ incarnation: UInt64) throws -> StorageEngine<MemoryFileSystem> {
        let engine = StorageEngine(fileSystem: fileSystem, policy: .always, preparedSpace: room)
        _ = try engine.open(start: start(incarnation), duplicateCapacity: 10, setAsideName: "damaged")
        return engine
    }

    /// Appends `count` updates from `lsn` on, each a write of its own, synced.
    private func write(_ engine: StorageEngine<MemoryFileSystem>, from lsn: UInt64, count: Int) throws {
        for index in 0..<UInt64(count) {
            try engine.append([LogEntry(lsn: lsn + index, record: update("k\(lsn + index)", lsn + index))])
            try engine.sync()
        }
    }

    private func written(_ engine: StorageEngine<MemoryFileSystem>) -> Int { engine.logBytesSinceSnapshot }

    func testTheFileStaysAheadOfTheRecordsAndMostWritesLeaveItsSizeAlone() throws {
        let fileSystem = MemoryFileSystem()
        let engine = try open(fileSystem, 1)
        var sizes: Set<Int> = []
        let writes = 58
        for lsn in UInt64(2)..<UInt64(2 + writes) {
            try write(engine, from: lsn, count: 1)
            let size = try XCTUnwrap(fileSystem.size(of: logName))
            XCTAssertGreaterThanOrEqual(size, written(engine) + room / 2, "room stays ahead of the records")
            XCTAssertTrue(fileSystem.files[logName]![written(engine)...].allSatisfy { $0 == 0 }, "zeros after them")
            sizes.insert(size)
        }
        // The file grows when less than half the room is left: once per room / 2 bytes of
        // records (and the first size), not at every write.
        XCTAssertLessThanOrEqual(sizes.count, 2 + written(engine) / (room / 2), "\(sizes.sorted())")
        XCTAssertEqual(fileSystem.writesAfterUnsyncedWrites, [])
    }

    func testAStartCutsTheZerosWithoutACopyAndRecoversEveryRecord() throws {
        let fileSystem = MemoryFileSystem()
        let first = try open(fileSystem, 1)
        try write(first, from: 2, count: 20)
        let end = written(first)
        XCTAssertGreaterThan(try XCTUnwrap(fileSystem.size(of: logName)), end)

        let second = StorageEngine(fileSystem: fileSystem, policy: .always, preparedSpace: room)
        let opening = try second.open(start: start(2), duplicateCapacity: 10, setAsideName: "damaged")
        XCTAssertEqual(opening.recovered.store.count, 20)
        XCTAssertEqual(opening.recovered.lastLSN, 22, "20 updates and two start records")
        XCTAssertNil(opening.tornTail, "zeros are no torn write: \(opening.report)")
        XCTAssertNil(opening.damage)
        XCTAssertEqual(try fileSystem.fileNames().filter { $0.contains("torn") }, [], "no copy of zeros is kept")
        // The start record went where the records ended, not after the zeros.
        let log = try XCTUnwrap(fileSystem.files[logName])
        let scan = LogScan.scan(Array(log.prefix(written(second))), generation: 1, expectedFirstLSN: 1)
        XCTAssertEqual(scan.ending, .clean)
        XCTAssertEqual(scan.lastLSN, 22)
    }

    /// Only the last log may end in zeros: recovery takes zeros at the end of an earlier
    /// one for synced records lost (a later log proves they were synced). A compaction's
    /// switch of logs cuts them first; without the cut, the restart below finds damage.
    func testACompactionCutsTheZerosBeforeTheLogStopsBeingTheLast() throws {
        let fileSystem = MemoryFileSystem()
        let engine = try open(fileSystem, 1)
        try write(engine, from: 2, count: 10)
        _ = try engine.beginSnapshot(lsn: 11)
        let earlier = try XCTUnwrap(fileSystem.files[logName])
        XCTAssertEqual(LogScan.scan(earlier, generation: 1, expectedFirstLSN: 1).ending, .clean, "no zeros after it")
        try write(engine, from: 12, count: 5)

        let restarted = StorageEngine(fileSystem: fileSystem, policy: .always, preparedSpace: room)
        let opening = try restarted.open(start: start(2), duplicateCapacity: 10, setAsideName: "damaged")
        XCTAssertNil(opening.damage, opening.report)
        XCTAssertEqual(opening.recovered.store.count, 15)
    }

    /// No room for all the zeros: those that went in are cut (a compaction would otherwise
    /// leave them ending an earlier log), the records still go in, and no preparing is
    /// tried again before the log has grown by the room asked for.
    func testWithoutSpaceForTheZerosTheRecordsStillGoIn() throws {
        let fileSystem = MemoryFileSystem()
        // Enough for the directory's first files, a few records and part of the zeros.
        fileSystem.spaceLeft = room / 2
        let engine = try open(fileSystem, 1)
        XCTAssertEqual(fileSystem.prepareCalls, 1)
        XCTAssertEqual(fileSystem.size(of: logName), written(engine), "the zeros that went in are cut")
        try write(engine, from: 2, count: 5)
        XCTAssertEqual(fileSystem.prepareCalls, 1, "tried again before the log grew by the room")
        XCTAssertEqual(fileSystem.size(of: logName), written(engine), "no zeros")
        _ = try engine.beginSnapshot(lsn: 6)
        fileSystem.spaceLeft = nil
        let restarted = StorageEngine(fileSystem: fileSystem, policy: .always, preparedSpace: room)
        let opening = try restarted.open(start: start(2), duplicateCapacity: 10, setAsideName: "damaged")
        XCTAssertEqual(opening.recovered.store.count, 5)
        XCTAssertNil(opening.damage, opening.report)
    }

    func testTheReportSaysHowManyZerosWereCut() throws {
        let fileSystem = MemoryFileSystem()
        let first = try open(fileSystem, 1)
        try write(first, from: 2, count: 3)
        let zeros = try XCTUnwrap(fileSystem.size(of: logName)) - written(first)
        let second = StorageEngine(fileSystem: fileSystem, policy: .always, preparedSpace: room)
        let opening = try second.open(start: start(2), duplicateCapacity: 10, setAsideName: "damaged")
        XCTAssertTrue(opening.report.contains("\(zeros) bytes of zeros after the last record"), opening.report)
    }

    func testOtherPoliciesPrepareNothing() throws {
        for policy in [FsyncPolicy.everysec, .no] {
            let fileSystem = MemoryFileSystem()
            let engine = StorageEngine(fileSystem: fileSystem, policy: policy, preparedSpace: room)
            _ = try engine.open(
                start: ServerStart(incarnation: 1, bootID: [UInt8](repeating: 1, count: 16), policy: policy),
                duplicateCapacity: 10, setAsideName: "damaged")
            try write(engine, from: 2, count: 3)
            XCTAssertEqual(fileSystem.size(of: logName), written(engine), "\(policy)")
        }
    }
}
