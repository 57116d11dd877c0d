import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// A process that ends on a failed write or sync records it (`StorageEngine.recordFailure`,
/// the failure marker): after a failed write-back the kernel may drop dirty pages without
/// a reboot, so under `everysec` and `no` a restart on the same boot may read a log
/// missing updates that run acknowledged. Its run is then judged as if a reboot had
/// followed it: its claim is void, for this start and every later one.
final class FailureMarkerTests: XCTestCase {
    private let claim = StateClaim(role: .primary, viewnum: 4, primary: "s1", backup: "s2")
    private let boot = [UInt8](repeating: 0xA, count: 16)

    private func start(
        _ fileSystem: MemoryFileSystem, incarnation: UInt64, policy: FsyncPolicy = .everysec
    ) throws -> (engine: StorageEngine<MemoryFileSystem>, opening: StorageEngine<MemoryFileSystem>.Opening) {
        let engine = StorageEngine(fileSystem: fileSystem, policy: policy)
        let opening = try engine.open(
            start: ServerStart(incarnation: incarnation, bootID: boot, policy: policy), duplicateCapacity: 10,
            setAsideName: "damaged-\(incarnation)")
        XCTAssertNil(opening.damage, opening.report)
        return (engine, opening)
    }

    private func writeClaim(_ engine: StorageEngine<MemoryFileSystem>) throws {
        try engine.append([LogEntry(lsn: engine.lastWritten + 1, record: .record(.claim(claim)))])
        try engine.sync()
    }

    func testAFailedSyncUnderEverysecVoidsTheClaimOnTheSameBoot() throws {
        let fileSystem = MemoryFileSystem()
        let first = try start(fileSystem, incarnation: 1).engine
        try writeClaim(first)
        XCTAssertEqual(try start(fileSystem, incarnation: 2).opening.recovered.claim, claim, "a process crash")
        let third = try start(fileSystem, incarnation: 3).engine
        try third.append([LogEntry(lsn: third.lastWritten + 1, record: setRecord("k", "v"))])
        // The sync that failed, as DiskLog would meet it: the process records it and ends.
        try third.recordFailure()
        XCTAssertEqual(try fileSystem.contents(of: DataFileName.failureMarker), Array("\n3\n".utf8))

        let fourth = try start(fileSystem, incarnation: 4).opening
        XCTAssertNil(fourth.recovered.claim, fourth.report)
        XCTAssertTrue(fourth.report.contains("failed write or sync"), fourth.report)
        // Still void once the next process's start record follows on the same boot.
        XCTAssertNil(try start(fileSystem, incarnation: 5).opening.recovered.claim)
    }

    /// The mark voids what was written before the failure, not a claim written after it.
    func testAClaimWrittenAfterTheFailureHolds() throws {
        let fileSystem = MemoryFileSystem()
        let first = try start(fileSystem, incarnation: 1).engine
        try writeClaim(first)
        try first.recordFailure()
        let second = try start(fileSystem, incarnation: 2).engine
        try writeClaim(second)
        XCTAssertEqual(try start(fileSystem, incarnation: 3).opening.recovered.claim, claim)
    }

    /// Under `always` nothing unsynced was acknowledged: the mark changes nothing.
    func testAFailureUnderAlwaysLeavesTheClaim() throws {
        let fileSystem = MemoryFileSystem()
        let first = try start(fileSystem, incarnation: 1, policy: .always).engine
        try writeClaim(first)
        try first.recordFailure()
        XCTAssertEqual(try start(fileSystem, incarnation: 2, policy: .always).opening.recovered.claim, claim)
    }

    /// A start whose opening fails syncing what the run before left unsynced (that run
    /// crashed before its sync, under `everysec`) may have made the kernel drop that run's
    /// pages: it marks that run before it gives up.
    func testAFailedOpeningMarksTheRunBefore() throws {
        let fileSystem = MemoryFileSystem()
        let first = try start(fileSystem, incarnation: 1).engine
        try writeClaim(first)
        try first.append([LogEntry(lsn: first.lastWritten + 1, record: setRecord("k", "v"))])
        fileSystem.syncsFail = true
        let failing = StorageEngine(fileSystem: fileSystem, policy: .always)
        XCTAssertThrowsError(
            try failing.open(
                start: ServerStart(incarnation: 2, bootID: boot, policy: .always), duplicateCapacity: 10,
                setAsideName: "damaged-2"))
        fileSystem.syncsFail = false
        XCTAssertEqual(try fileSystem.contents(of: DataFileName.failureMarker), Array("\n1\n".utf8))
        XCTAssertNil(try start(fileSystem, incarnation: 3, policy: .always).opening.recovered.claim)
    }

    func testTheMarkersLines() throws {
        let fileSystem = MemoryFileSystem()
        let first = try start(fileSystem, incarnation: 1).engine
        try writeClaim(first)
        // Another run's mark, then an append a crash cut short: the claim still holds.
        fileSystem.files[DataFileName.failureMarker] = Array("\n77\n\n1".utf8)
        XCTAssertEqual(try start(fileSystem, incarnation: 2).opening.recovered.claim, claim)
        // A line that is no incarnation: the mark cannot be read, and voids every claim.
        fileSystem.files[DataFileName.failureMarker] = Array("\n7x\n".utf8)
        XCTAssertNil(try start(fileSystem, incarnation: 3).opening.recovered.claim)
    }
}
