import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// Whether a recovered claim is still proof (docs/DESIGN.md §3.12): under `always`
/// always; under `everysec` and `no` only while the machine has not rebooted since the
/// process that wrote the claim started, whatever processes started in between.
final class ClaimValidityTests: XCTestCase {
    private let claim = StateClaim(role: .primary, viewnum: 4, primary: "s1", backup: "s2")
    private let bootA = [UInt8](repeating: 0xA, count: 16)
    private let bootB = [UInt8](repeating: 0xB, count: 16)

    /// One process start on `fileSystem`: what it recovers as its claim, after writing
    /// `claim` if asked.
    private func start(
        _ fileSystem: MemoryFileSystem, incarnation: UInt64, boot: [UInt8], policy: FsyncPolicy,
        writingClaim: Bool = false
    ) throws -> StateClaim? {
        let engine = StorageEngine(fileSystem: fileSystem, policy: policy)
        let opening = try engine.open(
            start: ServerStart(incarnation: incarnation, bootID: boot, policy: policy), duplicateCapacity: 10,
            setAsideName: "damaged")
        if writingClaim {
            try engine.append([LogEntry(lsn: opening.recovered.lastLSN + 1, record: .record(.claim(claim)))])
            try engine.sync()
        }
        return opening.recovered.claim
    }

    /// A reboot voids an everysec claim for the first process after it, and for every
    /// later one on the same boot: the first one's own start record must not vouch for a
    /// claim written before the reboot (its unsynced tail may have been lost then).
    func testAnEverysecClaimVoidedByARebootStaysVoid() throws {
        let fileSystem = MemoryFileSystem()
        XCTAssertNil(try start(fileSystem, incarnation: 1, boot: bootA, policy: .everysec, writingClaim: true))
        XCTAssertEqual(try start(fileSystem, incarnation: 2, boot: bootA, policy: .everysec), claim, "same boot")
        XCTAssertNil(try start(fileSystem, incarnation: 3, boot: bootB, policy: .everysec), "after a reboot")
        XCTAssertNil(try start(fileSystem, incarnation: 4, boot: bootB, policy: .everysec), "still after the reboot")
    }

    func testAnAlwaysClaimSurvivesReboots() throws {
        let fileSystem = MemoryFileSystem()
        XCTAssertNil(try start(fileSystem, incarnation: 1, boot: bootA, policy: .always, writingClaim: true))
        XCTAssertEqual(try start(fileSystem, incarnation: 2, boot: bootB, policy: .always), claim)
        XCTAssertEqual(try start(fileSystem, incarnation: 3, boot: bootB, policy: .everysec), claim)
        // Process 3 ran under everysec after the claim, and the machine rebooted: what it
        // may have acknowledged and not synced may be gone, and the claim with it.
        XCTAssertNil(try start(fileSystem, incarnation: 4, boot: bootA, policy: .always))
        XCTAssertNil(try start(fileSystem, incarnation: 5, boot: bootA, policy: .always), "void for good")
    }

    /// An `always` claim, then a run under `no` on the same boot (an operator changed
    /// --fsync), then a power cut: the later run's unsynced tail may have held updates it
    /// acknowledged (and a newer claim); the old claim no longer proves anything.
    func testALaterRunUnderNoThenARebootVoidsAnAlwaysClaim() throws {
        let fileSystem = MemoryFileSystem()
        XCTAssertNil(try start(fileSystem, incarnation: 1, boot: bootA, policy: .always, writingClaim: true))
        XCTAssertEqual(try start(fileSystem, incarnation: 2, boot: bootA, policy: .no), claim, "same boot")
        XCTAssertNil(try start(fileSystem, incarnation: 3, boot: bootB, policy: .always), "after a reboot")
    }
}
