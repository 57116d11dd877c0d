import XCTest

@testable import KVProtocol
@testable import ServerCore

/// With a data directory (`ServerConfig.durable`), nothing leaves a server that reveals
/// what its log does not yet hold: replies wait for the primary's log as well as the
/// backup's acknowledgement, and the backup's acknowledgement waits for its own log
/// (docs/DESIGN.md §3.12, docs/STORAGE.md).
final class DurabilityTests: XCTestCase {
    private func durable(_ config: inout ServerConfig) { config.durable = true }

    /// Boots `p` (and `b`) with every record persisted as it is asked for.
    private func durablePair() -> Harness {
        let h = Harness(["p", "b"], configure: durable)
        h.view(1, "p", to: ["p"])
        h.tick("p")
        h.view(1, "p", acked: true, to: ["p"])
        h.persist("p")
        h.view(2, "p", "b", to: ["p", "b"])
        // Chunks are answered at once; the last one only once the snapshot is on disk.
        while !h.toBackup.isEmpty || !h.toPrimary.isEmpty {
            if !h.toBackup.isEmpty { h.deliverToBackup() } else { h.deliverToPrimary() }
            h.persist("b")
        }
        return h
    }

    func testAPrimaryWithoutBackupAnswersOnlyOnceItsLogHoldsTheUpdate() {
        let h = Harness(["p"], configure: durable)
        h.bootFirstPrimary("p")
        let claim = h.logged["p"]?.last
        XCTAssertEqual(claim?.record, .claim(StateClaim(role: .primary, viewnum: 1, primary: "p", backup: "")))
        let put = h.request("p", .put, "k", "v")
        XCTAssertNil(h.reply(put), "answered before the log holds the update")
        let lsn = h["p"].lastLSN
        XCTAssertEqual(h.logged["p"]?.last?.lsn, lsn)
        if case .update(let update)? = h.logged["p"]?.last?.record {
            XCTAssertEqual(update.key, b("k"))
        } else {
            XCTFail("the put was not logged")
        }
        h.persist("p", upTo: lsn - 1)
        XCTAssertNil(h.reply(put), "answered with its own record not yet on disk")
        h.persist("p", upTo: lsn)
        XCTAssertEqual(h.reply(put)?.status, .ok)
    }

    /// While the log's disk is full, updates are refused before they are applied (their
    /// records could not be written, and the waiting records would grow); reads and the
    /// replies already held wait for the log, and updates are taken again once it says so.
    func testAFullDiskRefusesUpdatesUntilTheLogTakesWritesAgain() {
        let h = Harness(["p"], configure: durable)
        h.bootFirstPrimary("p")
        h.persist("p")
        let held = h.request("p", .put, "k", "v")
        h.step("p", .diskFull(true))
        XCTAssertEqual(h.notices["p"]?.last, .diskFull)
        let lastLSN = h["p"].lastLSN
        let refused = h.request("p", .put, "k", "w")
        let deleted = h.request("p", .delete, "k")
        XCTAssertEqual(h.reply(refused)?.status, .retryLater)
        XCTAssertEqual(h.reply(deleted)?.status, .retryLater)
        XCTAssertEqual(h["p"].lastLSN, lastLSN, "a refused update was logged")
        let get = h.request("p", .get, "k")
        XCTAssertNil(h.reply(get), "a read revealed what the log does not hold")
        XCTAssertNil(h.reply(held))
        // A transaction is refused if it may write, served (and held) if it only reads.
        let writing = h.token()
        h.step("p", .clientRequest(ClientRequest(txn: Txn(success: [.delete(b("k"))]), clientID: 2, seq: 1), writing))
        XCTAssertEqual(h.reply(writing)?.status, .retryLater)
        let reading = h.token()
        h.step("p", .clientRequest(ClientRequest(txn: Txn(success: [.get(b("k"))]), clientID: 2, seq: 2), reading))
        XCTAssertNil(h.reply(reading), "a read-only transaction was refused or revealed what the log does not hold")
        XCTAssertEqual(h["p"].lastLSN, lastLSN, "a refused update was logged")

        h.persist("p")
        h.step("p", .diskFull(false))
        XCTAssertEqual(h.notices["p"]?.last, .diskNoLongerFull)
        XCTAssertEqual(h.reply(held)?.status, .ok)
        XCTAssertEqual(h.reply(get)?.value, b("v"))
        XCTAssertEqual(h.reply(reading)?.outcome?.results.first, .value(h["p"].store[b("k")]))
        let taken = h.request("p", .put, "k", "x")
        h.persist("p")
        XCTAssertEqual(h.reply(taken)?.status, .ok)
    }

    func testAGetWaitsForTheLogToHoldWhatItReads() {
        let h = Harness(["p"], configure: durable)
        h.bootFirstPrimary("p")
        h.persist("p")
        let put = h.request("p", .put, "k", "v")
        let get = h.request("p", .get, "k")
        XCTAssertNil(h.reply(get), "a read revealed an update a crash could still take back")
        h.persist("p")
        XCTAssertEqual(h.reply(put)?.status, .ok)
        XCTAssertEqual(h.reply(get)?.value, b("v"))
        XCTAssertEqual(h.replyOrder.suffix(2), [put, get], "replies left out of order")
    }

    func testRepliesWaitForBothTheBackupAndThePrimarysOwnLog() {
        let h = durablePair()
        XCTAssertEqual(h.snapshots["b"]?.count, 1, "the transfer was not written as a snapshot")
        XCTAssertEqual(h["b"].claim, StateClaim(role: .backup, viewnum: 2, primary: "p", backup: "b"))
        let put = h.request("p", .put, "k", "v")
        h.deliverToBackup()
        XCTAssertTrue(h.toPrimary.isEmpty, "the backup acknowledged before its log held the update")
        h.persist("b")
        h.deliverToPrimary()
        XCTAssertNil(h.reply(put), "answered before the primary's log held the update")
        h.persist("p")
        XCTAssertEqual(h.reply(put)?.status, .ok)

        // The other order: the primary's log first, then the backup.
        let second = h.request("p", .put, "k", "w")
        h.persist("p")
        XCTAssertNil(h.reply(second), "answered before the backup acknowledged")
        h.deliverToBackup()
        h.persist("b")
        h.deliverToPrimary()
        XCTAssertEqual(h.reply(second)?.status, .ok)
    }

    func testTheLastChunkIsAcknowledgedOnlyOnceTheSnapshotIsOnDisk() {
        let h = Harness(["p", "b"], configure: durable)
        h.bootFirstPrimary("p")
        h.persist("p")
        h.request("p", .put, "k", "v")
        h.persist("p")
        h.view(2, "p", "b", to: ["p", "b"])
        h.deliverToBackup()
        XCTAssertEqual(h.snapshots["b"], [h["b"].lastLSN], "no snapshot asked for at the end of the transfer")
        XCTAssertTrue(h.toPrimary.isEmpty, "the transfer acknowledged before its snapshot was durable")
        h.persist("b")
        XCTAssertEqual(h.toPrimary.count, 1)
        h.deliverToPrimary()
        XCTAssertTrue(h["p"].backupSynchronized)
    }

    func testEveryUpdateAndClaimIsLoggedInOrderWithConsecutiveLSNs() {
        let h = durablePair()
        for index in 0..<20 {
            h.request("p", index % 3 == 0 ? .delete : .put, "k\(index % 4)", "v\(index)")
            h.persist("p")
            h.settle()
            h.persist("b")
            h.settle()
        }
        for address in ["p", "b"] {
            let lsns = (h.logged[address] ?? []).map(\.lsn)
            XCTAssertEqual(lsns, Array(lsns.sorted()), "\(address) logged out of order")
            XCTAssertEqual(Set(lsns).count, lsns.count, "\(address) reused an LSN")
        }
        let primaryUpdates = h.logged["p"]!.compactMap { if case .update(let u) = $0.record { u } else { nil } }
        let backupUpdates = h.logged["b"]!.compactMap { if case .update(let u) = $0.record { u } else { nil } }
        XCTAssertEqual(primaryUpdates.count, 20)
        XCTAssertEqual(primaryUpdates, backupUpdates, "the backup logged other updates than the primary")
    }

    func testWithoutADataDirectoryNothingIsLoggedOrHeld() {
        let h = Harness(["p"])
        h.bootFirstPrimary("p")
        let put = h.request("p", .put, "k", "v")
        XCTAssertEqual(h.reply(put)?.status, .ok)
        XCTAssertNil(h.logged["p"])
        XCTAssertEqual(h["p"].lastLSN, 0)
    }

    // MARK: - Restarts with recovered data

    private func recovered(_ claim: StateClaim?, keys: [String: String] = ["k": "v"]) -> RecoveredData {
        var store: [Bytes: Bytes] = [:]
        for (key, value) in keys { store[b(key)] = b(value) }
        return RecoveredData(
            store: KeyValueStore(values: store),
            duplicates: DuplicateTable(), lastLSN: 9, claim: claim)
    }

    func testARestartedServerClaimsWhatItRecoveredUntilItTakesARole() {
        let h = Harness([])
        let claim = StateClaim(role: .primary, viewnum: 4, primary: "p", backup: "b")
        h.add("p", recovered: recovered(claim), configure: durable)
        XCTAssertEqual(h["p"].pingClaim, claim)
        XCTAssertEqual(h["p"].persistedLSN, 9)
        h.view(5, "b", "", acked: true, to: ["p"])
        XCTAssertEqual(h["p"].pingClaim, claim, "an idle server still holds what it claims")
        h.view(6, "b", "p", to: ["p"])
        XCTAssertEqual(h["p"].pingClaim, claim, "named backup, it still holds the claimed state until a transfer")
        let chunk = TransferChunk(
            viewnum: 6, from: "b", transferID: 1, index: 0, isLast: false, revision: 0,
            entries: [(b("x"), StoredValue(value: b("y"), revision: 1))], duplicates: [])
        h.sendDirect("p", .transfer(chunk))
        XCTAssertNil(h["p"].pingClaim, "a backup whose store a transfer is replacing still claims its old state")
    }

    func testARevivedServerServesTheViewAfterItsClaimAndLogsANewClaim() {
        let claims = [
            (4, StateClaim.Role.primary), (4, .backup), (3, .primary), (3, .backup), (2, .primary), (2, .backup),
        ]
        for (claimedView, role) in claims {
            let h = Harness([])
            let claim = StateClaim(
                role: role, viewnum: UInt64(claimedView), primary: role == .primary ? "p" : "x",
                backup: role == .backup ? "p" : "")
            h.add("p", recovered: recovered(claim), configure: durable)
            h.view(5, "p", "", to: ["p"])
            XCTAssertTrue(h["p"].isServing, "claim \(claim) did not make it primary of view 5")
            XCTAssertEqual(
                h.logged["p"]?.first?.record, .claim(StateClaim(role: .primary, viewnum: 5, primary: "p", backup: "")))
            XCTAssertEqual(h.logged["p"]?.first?.lsn, 10, "the log goes on after what was recovered")
            let get = h.request("p", .get, "k")
            h.persist("p")
            XCTAssertEqual(h.reply(get)?.value, b("v"), "the recovered data is not what it serves")
        }
    }

    func testARestartedServerRefusesAViewItsClaimDoesNotPrecede() {
        for viewnum: UInt64 in [4, 1] {
            let h = Harness([])
            let claim = StateClaim(role: .primary, viewnum: 4, primary: "p", backup: "b")
            h.add("p", recovered: recovered(claim), configure: durable)
            h.view(viewnum, "p", "", to: ["p"])
            XCTAssertFalse(h["p"].isServing, "served view \(viewnum) with a claim of view 4")
            XCTAssertEqual(h.notices("p", where: \.isRefusedPrimary).count, 1)
            XCTAssertEqual(h["p"].pingClaim, claim, "refusing dropped the claim")
        }
    }

    /// Issue 17 (the switchover to a backup that crashed): a primary made backup of the
    /// next view keeps the state it served, and says so in its pings, until a transfer
    /// replaces it; named primary of a later view, it serves it with that state.
    func testAPrimaryMadeBackupClaimsItsViewUntilATransferReachesIt() {
        for durable in [false, true] {
            let h = Harness(["p", "b"]) { config in config.durable = durable }
            h.bootPair()
            if durable { h.persist("p"); h.persist("b") }
            let put = h.request("p", .put, "k", "v")
            h.settle()
            if durable { h.persist("p"); h.persist("b") }
            h.settle()
            XCTAssertEqual(h.reply(put)?.status, .ok)
            XCTAssertNil(h["p"].pingClaim, "a serving primary claims nothing")
            // The switchover: b primary of view 3, p its backup; b crashes before sending anything.
            h.view(3, "b", "p", to: ["p"])
            XCTAssertEqual(h["p"].pingClaim, StateClaim(role: .primary, viewnum: 2, primary: "p", backup: "b"))
            // The monitor revives p into view 4; it serves with what it held.
            h.view(4, "p", "", to: ["p"])
            XCTAssertTrue(h["p"].isServing, "durable \(durable): the old primary refused the revival")
            let get = h.request("p", .get, "k")
            if durable { h.persist("p") }
            XCTAssertEqual(h.reply(get)?.value, b("v"))
            XCTAssertNil(h["p"].pingClaim)
        }
        // A chunk of the new primary's transfer ends the claim: the store is being replaced.
        let h = Harness(["p", "b"])
        h.bootPair()
        h.view(3, "b", "p", to: ["p"])
        XCTAssertNotNil(h["p"].pingClaim)
        let chunk = TransferChunk(
            viewnum: 3, from: "b", transferID: 9, index: 0, isLast: false, revision: 0,
            entries: [(b("x"), StoredValue(value: b("y"), revision: 1))], duplicates: [])
        _ = h.sendDirect("p", .transfer(chunk))
        XCTAssertNil(h["p"].pingClaim, "a backup whose store a transfer is replacing still claims its old view")
        h.view(4, "p", "", to: ["p"])
        XCTAssertFalse(h["p"].isServing, "served a half-replaced store")
    }

    func testAClaimOfAnotherClusterRevivesNothing() {
        let claim = StateClaim(role: .primary, viewnum: 4, primary: "p", backup: "b", cluster: 77)
        let h = Harness([])
        h.add("p", recovered: recovered(claim), configure: durable)
        h.view(5, "p", "", cluster: 78, to: ["p"])
        XCTAssertFalse(h["p"].isServing, "served another cluster's view with its data")
        XCTAssertEqual(h.notices("p", where: \.isRefusedPrimary).count, 1)
        XCTAssertEqual(h["p"].pingClaim, claim, "refusing dropped the claim")
        h.view(6, "p", "", cluster: 77, to: ["p"])
        XCTAssertTrue(h["p"].isServing, "not revived by a later view of its own cluster")
        XCTAssertEqual(
            h.logged["p"]?.first?.record,
            .claim(StateClaim(role: .primary, viewnum: 6, primary: "p", backup: "", cluster: 77)),
            "the new claim does not name the cluster")
    }

    func testAClaimForAnotherServerIsNoClaim() {
        let h = Harness([])
        let claim = StateClaim(role: .primary, viewnum: 4, primary: "elsewhere", backup: "")
        h.add("p", recovered: recovered(claim), configure: durable)
        XCTAssertNil(h["p"].pingClaim)
        h.view(5, "p", "", to: ["p"])
        XCTAssertFalse(h["p"].isServing)
    }

    /// `kvctl revive --accept-data-loss` tells the server to adopt its data before the
    /// monitor makes the view. Its claim still goes out meanwhile: the monitor may revive
    /// it from that claim, with nothing lost, rather than from the operator's choice.
    func testAnAdoptedServerKeepsSendingItsRecoveredClaim() {
        let h = Harness([])
        let claim = StateClaim(role: .primary, viewnum: 4, primary: "p", backup: "b")
        h.add("p", recovered: recovered(claim), configure: durable)
        h.step("p", .adoptData)
        XCTAssertEqual(h.notices("p", where: { if case .adoptedData = $0 { true } else { false } }).count, 1)
        XCTAssertEqual(h["p"].pingClaim, claim, "adopting its data dropped the claim the monitor may revive it from")
        h.step("p", .adoptData)
        XCTAssertEqual(h["p"].pingClaim, claim, "adopting twice dropped the claim")
        h.view(6, "b", "p", to: ["p"])
        XCTAssertEqual(h["p"].pingClaim, claim, "named backup, it still holds the claimed state until a transfer")
        h.view(7, "p", "", to: ["p"])
        XCTAssertTrue(h["p"].isServing, "the adopted server did not take the view naming it primary")
        XCTAssertNil(h["p"].pingClaim, "a serving primary still sends the claim it recovered")

        // Without a claim to keep, an adopted server sends none.
        let stale = Harness([])
        stale.add("q", recovered: recovered(nil), configure: durable)
        stale.step("q", .adoptData)
        XCTAssertNil(stale["q"].pingClaim)
    }

    func testAdoptingDataIsRefusedWhereItWouldBreakTheCore() {
        let h = Harness(["p", "b"]) { config in
            config.durable = true
            config.transferChunkBytes = 1  // one entry per chunk
        }
        h.bootFirstPrimary("p")
        for key in ["k1", "k2", "k3"] { h.request("p", .put, key, "v") }
        h.persist("p")
        h.step("p", .adoptData)
        XCTAssertTrue(h["p"].isServing, "a serving primary adopted its own data")
        // The first primary of a new cluster, waiting for its acknowledgement: it must stay
        // empty (adopting would break the core's invariant and stop the daemon).
        let fresh = Harness(["q"], configure: durable)
        fresh.view(1, "q", to: ["q"])
        fresh.step("q", .adoptData)
        XCTAssertEqual(fresh.notices("q", where: { if case .adoptRefused = $0 { true } else { false } }).count, 1)
        // A backup half way through a transfer: its store is part old, part new.
        h.view(2, "p", "b", to: ["p", "b"])
        h.deliverToBackup()
        h.view(3, "p", "", acked: false, to: ["b"])
        XCTAssertFalse(h["b"].mayCompact, "a half-replaced store would be compacted")
        h.step("b", .adoptData)
        XCTAssertEqual(h.notices("b", where: { if case .adoptRefused = $0 { true } else { false } }).count, 1)
    }
}

extension DurabilityTests {
    func testAFullDiskPausesActiveExpiry() {
        let h = Harness(["p"], configure: { $0.durable = true })
        h.bootFirstPrimary("p")
        h.persist("p")
        h.txn("p", Txn(success: [.put(b("k"), value: b("v"), expiry: .after(10), returnPrevious: false)]))
        h.persist("p")
        h.step("p", .diskFull(true))
        let lastLSN = h["p"].lastLSN
        h.clock += 10
        h.tick("p")
        XCTAssertEqual(h["p"].lastLSN, lastLSN, "an expiry was logged while the disk is full")
        h.persist("p")
        h.step("p", .diskFull(false))
        h.tick("p")
        XCTAssertEqual(h["p"].lastLSN, lastLSN + 1, "the due key is deleted once there is space")
        XCTAssertNil(h["p"].store[b("k")])
    }
}
