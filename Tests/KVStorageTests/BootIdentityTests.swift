import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// A claim written under `everysec` or `no` holds after a restart only in the same boot
/// of the machine. A boot id that could not be read (all zeros: a sandbox such as
/// systemd's ProcSubset=pid hides /proc/sys/kernel/random/boot_id) proves nothing: two
/// unknown ids taken as the same boot kept such a claim across a reboot that may have
/// lost the unsynced tail, acknowledged writes included.
final class BootIdentityTests: XCTestCase {
    private let known = [UInt8](repeating: 0xAB, count: ServerStart.bootIDSize)
    private let unknown = ServerStart.unknownBootID

    func testAnUnknownBootIDIsNeverTheSameBoot() {
        XCTAssertEqual(unknown, [UInt8](repeating: 0, count: 16))
        let knownStart = ServerStart(incarnation: 1, bootID: known, policy: .everysec)
        XCTAssertTrue(knownStart.ranInBoot(known))
        XCTAssertFalse(knownStart.ranInBoot([UInt8](repeating: 0xCD, count: 16)))
        XCTAssertFalse(knownStart.ranInBoot(unknown))
        XCTAssertFalse(ServerStart(incarnation: 1, bootID: unknown, policy: .everysec).ranInBoot(unknown))
        XCTAssertFalse(ServerStart(incarnation: 1, bootID: unknown, policy: .everysec).ranInBoot(known))
    }

    /// Damage in the tail of an everysec log, both boot ids unknown: cut as after a
    /// reboot (its loss is what the policy allows), not taken as damage within one boot.
    func testDamagedEverysecTailWithUnknownBootIDsIsCutAsAfterAReboot() throws {
        var records = sampleHistory + [setRecord("e", "5", client: 6)]
        records[10] = .start(ServerStart(incarnation: 2, bootID: unknown, policy: .everysec))
        var fixture = DataDirectoryFixture(records: records)
        let log = fixture.addLog(1...13, writeSize: 1)
        // Lsn 12's page never reached the disk; lsn 13's did.
        let lost = log.writes[11].recordStarts[0]
        for index in lost..<lost + 8 { fixture.directory.files[log.fileName]![index] = 0 }
        let state = try fixture.recover(bootID: unknown).recovered
        XCTAssertEqual(state?.lastLSN, 11)
        XCTAssertEqual(state?.tornTail, LogFilePosition(file: log.fileName, offset: lost))
        XCTAssertNotNil(state?.lostUnsyncedTail)
    }

    /// What the engine hands the server after a restart: the claim of a run under
    /// `everysec` only when both runs know the boot id and it is the same; under `always`
    /// whatever the boot.
    func testTheEngineKeepsAClaimOnlyWhenTheBootIsKnownToBeTheSame() throws {
        let claim = StateClaim(role: .primary, viewnum: 7, primary: "p:1", backup: "b:2")
        func claimAfterRestart(policy: FsyncPolicy, writer: [UInt8], reader: [UInt8]) throws -> (StateClaim?, String) {
            let disk = BootTestDataDirectory()
            let first = StorageEngine(fileSystem: disk, policy: policy)
            let opened = try first.open(
                start: ServerStart(incarnation: 1, bootID: writer, policy: policy), duplicateCapacity: 100,
                setAsideName: "damaged-1")
            try first.append([LogEntry(lsn: opened.recovered.lastLSN + 1, record: .record(.claim(claim)))])
            try first.sync()
            let second = StorageEngine(fileSystem: disk, policy: policy)
            let reopened = try second.open(
                start: ServerStart(incarnation: 2, bootID: reader, policy: policy), duplicateCapacity: 100,
                setAsideName: "damaged-2")
            XCTAssertNil(reopened.damage, reopened.report)
            return (reopened.recovered.claim, reopened.report)
        }
        XCTAssertEqual(try claimAfterRestart(policy: .everysec, writer: known, reader: known).0, claim)
        let rebooted = [UInt8](repeating: 1, count: 16)
        XCTAssertNil(try claimAfterRestart(policy: .everysec, writer: known, reader: rebooted).0)
        let (unknownBoth, report) = try claimAfterRestart(policy: .everysec, writer: unknown, reader: unknown)
        XCTAssertNil(unknownBoth)
        XCTAssertTrue(report.contains("boot id unknown"), report)
        XCTAssertNil(try claimAfterRestart(policy: .no, writer: known, reader: unknown).0)
        XCTAssertNil(try claimAfterRestart(policy: .no, writer: unknown, reader: known).0)
        XCTAssertEqual(try claimAfterRestart(policy: .always, writer: unknown, reader: unknown).0, claim)
    }
}

/// A data directory in memory that `StorageEngine` can write: every write is on "disk"
/// at once (no crash is simulated here).
final class BootTestDataDirectory: StorageFileSystem {
    typealias Handle = String

    struct Failure: Error {
        var description: String
    }

    var files: [String: [UInt8]] = [:]
    var subdirectories: Set<String> = []

    func fileNames() throws -> [String] { files.keys.filter { !$0.contains("/") }.sorted() }

    func contents(of name: String) throws -> [UInt8]? { files[name] }

    func create(_ name: String) throws -> String {
        guard files[name] == nil else { throw Failure(description: "\(name) exists") }
        files[name] = []
        return name
    }

    func openForAppend(_ name: String) throws -> String {
        guard files[name] != nil else { throw Failure(description: "no \(name)") }
        return name
    }

    func write(_ handle: String, _ bytes: UnsafeRawBufferPointer) throws { files[handle, default: []] += bytes }

    func write(_ handle: String, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        files[handle]!.write(bytes, at: offset)
    }

    func sync(_ handle: String) throws {}

    func close(_ handle: String) {}

    func rename(_ from: String, to: String) throws {
        guard let bytes = files.removeValue(forKey: from) else { throw Failure(description: "no \(from)") }
        files[to] = bytes
    }

    func syncDirectory() throws {}

    func remove(_ name: String) throws { files[name] = nil }

    func truncate(_ name: String, to length: Int) throws {
        guard let bytes = files[name] else { throw Failure(description: "no \(name)") }
        files[name] = Array(bytes.prefix(length))
    }

    func makeSubdirectory(_ name: String) throws { subdirectories.insert(name) }

    func syncSubdirectory(_ name: String) throws {}

    func size(of name: String) -> Int? { files[name]?.count }
}
