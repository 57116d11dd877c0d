import XCTest

@testable import KVProtocol
@testable import ServerCore

/// Read leases (docs/DESIGN.md §3.14): a Get of a settled key is answered by the primary
/// alone while its backup's promise holds; everything else still waits for the backup.
final class ReadLeaseTests: XCTestCase {
    private static let lease: UInt64 = 400_000_000
    private static let millisecond: UInt64 = 1_000_000

    /// A pair whose lease clocks start well past the wait after a start, booted, with
    /// one key written and settled: the primary holds a lease from that batch.
    private func leasedPair(
        durable: Bool = false, lease: UInt64 = lease, configure: @escaping (inout ServerConfig) -> Void = { _ in }
    ) -> Harness {
        let h = Harness([])
        for name in ["p", "b", "c"] {
            h.leaseClock[name] = 5_000 * Self.millisecond
            h.add(name) {
                $0.readLease = lease
                $0.durable = durable
                configure(&$0)
            }
            h.leaseClock[name]! += Limits.maxReadLease
        }
        h.bootFirstPrimary("p")
        h.view(2, "p", "b", to: ["p", "b"])
        settle(h, durable: durable)
        h.request("p", .put, "k", "v")
        settle(h, durable: durable)
        return h
    }

    private func settle(_ h: Harness, durable: Bool) {
        guard durable else { return h.settle() }
        deliverAll(h, persisting: ["b", "p"])
    }

    /// Delivers every message and answer, with the logs of `names` catching up after each.
    private func deliverAll(_ h: Harness, persisting names: [String]) {
        while !h.toBackup.isEmpty || !h.toPrimary.isEmpty {
            if !h.toBackup.isEmpty { h.deliverToBackup() } else { h.deliverToPrimary() }
            for name in names { h.persist(name) }
        }
    }

    private func advance(_ h: Harness, _ nanoseconds: UInt64, _ names: [String] = ["p", "b", "c"]) {
        for name in names { h.leaseClock[name]! += nanoseconds }
    }

    func testAGetOfASettledKeyIsAnsweredWithoutTheBackup() {
        let h = leasedPair()
        let sentBefore = h.sentBatches.count
        let get = h.request("p", .get, "k")
        XCTAssertEqual(h.reply(get), ClientReply(status: .ok, value: b("v")), "answered in the same step")
        XCTAssertEqual(h.reply(h.request("p", .get, "absent")), ClientReply(status: .noKey))
        XCTAssertEqual(h.sentBatches.count, sentBefore, "no batch asked of the backup")
        XCTAssertEqual(h["p"].counters.leaseReads, 2)
    }

    func testWithoutALeaseEveryGetWaitsForTheBackup() {
        let h = leasedPair(lease: 0)
        let get = h.request("p", .get, "k")
        XCTAssertNil(h.reply(get))
        h.settle()
        XCTAssertEqual(h.reply(get), ClientReply(status: .ok, value: b("v")))
        XCTAssertEqual(h["p"].counters.leaseReads, 0)
        XCTAssertEqual(h.sentBatches.last?.lease, 0)
    }

    func testTheLeaseRunsFromWhenTheBatchLeftNotFromItsAnswer() {
        let h = leasedPair()
        h.request("p", .put, "k", "v2")
        h.deliverToBackup()
        // The answer takes 300 ms to come back: the lease still ends L·(1 − 2ρ) − margin
        // after the batch left, not after the answer arrived.
        advance(h, 300 * Self.millisecond)
        h.deliverToPrimary()
        let runsFor = h["p"].config.leaseRunsFor
        XCTAssertEqual(runsFor, Self.lease - 800_000 - 5 * Self.millisecond)
        advance(h, runsFor - 300 * Self.millisecond - 1)
        XCTAssertEqual(h.reply(h.request("p", .get, "k")), ClientReply(status: .ok, value: b("v2")), "just before")
        advance(h, 1)
        let late = h.request("p", .get, "k")
        XCTAssertNil(h.reply(late), "at the end of the lease, a Get waits for the backup again")
        h.settle()
        XCTAssertEqual(h.reply(late), ClientReply(status: .ok, value: b("v2")))
    }

    func testAGetOfAKeyWithAnUpdateInFlightWaitsForThatBatchOnly() {
        let h = leasedPair()
        h.request("p", .put, "k", "new")
        XCTAssertEqual(h.toBackup.count, 1, "the put's batch is in flight")
        let get = h.request("p", .get, "k")
        XCTAssertNil(h.reply(get), "the new value is not settled: a crash could still take it back")
        XCTAssertEqual(h.toBackup.count, 1, "no new batch for the Get")
        XCTAssertEqual(
            h.reply(h.request("p", .get, "other")), ClientReply(status: .noKey), "other keys are answered meanwhile")
        h.deliverToBackup()
        h.deliverToPrimary()
        XCTAssertEqual(h.reply(get), ClientReply(status: .ok, value: b("new")))
    }

    func testAGetOfAKeyDeletedInFlightWaitsToo() {
        let h = leasedPair()
        h.request("p", .delete, "k", client: 2)
        let get = h.request("p", .get, "k")
        XCTAssertNil(h.reply(get), "the deletion is not settled")
        h.settle()
        XCTAssertEqual(h.reply(get), ClientReply(status: .noKey))
        XCTAssertEqual(h.reply(h.request("p", .get, "k")), ClientReply(status: .noKey), "settled now: at once")
    }

    func testAGetOfAKeyInTheOpenBatchWaitsForIt() {
        let h = leasedPair { $0.maxBatchesInFlight = 1 }
        h.request("p", .put, "k", "1")
        // The window (one batch here) is full: the next put gathers in the open batch.
        h.request("p", .put, "j", "2", client: 2)
        XCTAssertEqual(h.toBackup.count, 1)
        let get = h.request("p", .get, "j")
        XCTAssertNil(h.reply(get))
        h.settle()
        XCTAssertEqual(h.reply(get), ClientReply(status: .ok, value: b("2")))
    }

    func testAGetWaitsForThePrimarysOwnLogToo() {
        let h = leasedPair(durable: true)
        XCTAssertEqual(h.reply(h.request("p", .get, "k")), ClientReply(status: .ok, value: b("v")))
        h.request("p", .put, "k", "v2")
        h.deliverToBackup()
        h.persist("b")
        h.deliverToPrimary()
        let get = h.request("p", .get, "k")
        XCTAssertNil(h.reply(get), "acknowledged by the backup, but not on the primary's disk")
        h.persist("p")
        XCTAssertEqual(h.reply(get), ClientReply(status: .ok, value: b("v2")))
    }

    func testAnIdlePrimaryRenewsWithAnEmptyBatch() {
        let h = leasedPair()
        advance(h, 100 * Self.millisecond)
        h.tick("p")
        XCTAssertTrue(h.toBackup.isEmpty, "more than half the lease is left")
        advance(h, 150 * Self.millisecond)
        h.tick("p")
        XCTAssertEqual(h.toBackup.count, 1, "less than half left: renewed")
        XCTAssertEqual(h.toBackup.first?.batch?.updates.count, 0)
        XCTAssertEqual(h.toBackup.first?.batch?.lease, Self.lease)
        h.settle()
        advance(h, 300 * Self.millisecond)
        XCTAssertEqual(h.reply(h.request("p", .get, "k")), ClientReply(status: .ok, value: b("v")))
    }

    func testANewViewDropsTheLease() {
        let h = leasedPair()
        h.view(3, "p", "c", to: ["p", "c"])
        let get = h.request("p", .get, "k")
        XCTAssertNil(h.reply(get), "the new backup's transfer comes first, then its grant")
        XCTAssertEqual(h["p"].counters.leaseReads, 0)
    }

    func testAPromotedBackupWaitsOutWhatItGranted() {
        let h = leasedPair()
        advance(h, 100 * Self.millisecond)
        h.view(3, "b", "c", to: ["b", "c"])
        XCTAssertEqual(h["b"].duty, .primary(.waitingOutLease))
        XCTAssertTrue(h.notices("b") { if case .waitingOutLease = $0 { true } else { false } }.count == 1)
        let put = h.request("b", .put, "k", "from b")
        XCTAssertNil(h.reply(put), "deferred: the old primary may still answer Gets on its own")
        XCTAssertEqual(h.tick("b").pings, [2], "view 3 is not acknowledged while waiting")
        advance(h, Self.lease - 100 * Self.millisecond - 1)
        h.tick("b")
        XCTAssertEqual(h["b"].duty, .primary(.waitingOutLease), "1 ns before the promise ends")
        advance(h, 1)
        h.tick("b")
        XCTAssertEqual(h["b"].duty, .primary(.serving))
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertFalse(h["p"].store.values[b("k")] == b("from b"))
    }

    func testALeavingPrimaryGivesTheLeaseBackSoTheHandOverWaitsForNothing() {
        let h = leasedPair()
        h.step("p", .leave)
        let release = h.toBackup.last?.batch
        XCTAssertEqual(release?.lease, 0, "a batch asking for no lease")
        XCTAssertNil(h.reply(h.request("p", .get, "k")), "no Get on its own once given back")
        h.settle()
        XCTAssertLessThanOrEqual(h["b"].leasePromisedUntil, h.leaseClock["b"]!, "nothing left to wait out")
        h.view(3, "b", "c", to: ["b", "c"])
        XCTAssertEqual(h["b"].duty, .primary(.serving), "promoted without waiting")
    }

    func testAReleaseReachesABackupAlreadyInTheNextView() {
        let h = leasedPair()
        h.view(3, "b", "p", to: ["b"])
        XCTAssertEqual(h["b"].duty, .primary(.waitingOutLease))
        // The old primary learns view 3 and gives back what it held, in a forward of view 2.
        h.view(3, "b", "p", to: ["p"])
        let release = h.toBackup.first { $0.batch?.viewnum == 2 && $0.batch?.lease == 0 }
        XCTAssertNotNil(release)
        h.inject(release!)
        XCTAssertEqual(h["b"].duty, .primary(.serving), "the switchover does not wait out the lease")
    }

    func testAServerThatStartsWaitsBeforeActingAsPrimary() {
        let h = leasedPair()
        // b restarts: whatever it granted before, it waits out the longest lease any
        // primary may hold.
        h.leaseClock["b"]! += 10 * Self.millisecond
        h.add("b") { $0.readLease = 0 }
        XCTAssertEqual(h["b"].leasePromisedUntil, h.leaseClock["b"]! + Limits.maxReadLease)
        h.view(3, "b", "c", to: ["b", "c"])
        XCTAssertEqual(h["b"].duty, .primary(.refusing), "empty: it refuses anyway")
    }

    func testABackupGrantsOnlyForTheLatestBatch() {
        let h = leasedPair()
        let first = h.sentBatches.last!
        h.step("p", .leave)
        h.settle()
        let released = h["b"].leasePromisedUntil
        // A resend of the earlier batch, which asked for a lease, arrives after the release.
        var resend = first
        resend.lease = Self.lease
        _ = h.sendDirect("b", .forward(resend))
        XCTAssertEqual(h["b"].leasePromisedUntil, released, "an older batch grants nothing again")
    }

    func testAnAcceptanceWaitingForTheLogIsRefusedOnceTheViewMoves() {
        let h = leasedPair(durable: true)
        h.request("p", .put, "k", "v2")
        h.deliverToBackup()
        XCTAssertTrue(h.toPrimary.isEmpty, "the acceptance waits for b's log")
        let promised = h["b"].leasePromisedUntil
        h.view(3, "b", "c", to: ["b"])
        XCTAssertEqual(h.toPrimary.map(\.ack.verdict), [.rejected], "refused at once, granting nothing")
        h.persist("b")
        XCTAssertEqual(h["b"].leasePromisedUntil, promised, "its log catching up grants nothing later")
        XCTAssertEqual(h.toPrimary.count, 1)
    }

    /// The give-back's own acceptance waits behind the earlier ones, and is sent last.
    func testAGiveBackWithAcceptancesStillWaitingLeavesNothingToWaitOut() {
        let h = leasedPair(durable: true)
        h.request("p", .put, "k", "v2")
        h.deliverToBackup()
        h.step("p", .leave)
        h.deliverToBackup()
        h.persist("b")
        XCTAssertLessThanOrEqual(h["b"].leasePromisedUntil, h.leaseClock["b"]!, "nothing to wait out")
        h.view(3, "b", "c", to: ["b", "c"])
        XCTAssertEqual(h["b"].duty, .primary(.serving))
    }

    func testAKeyDeletedBeforeTheStreamBeganIsSettledOnlyWithItsRecord() {
        let h = leasedPair(durable: true)
        // b applies p's deletion of k, and is promoted before its log holds it.
        h.request("p", .delete, "k", client: 2)
        h.deliverToBackup()
        h.toPrimary.removeAll()
        h.toBackup.removeAll()
        h.view(3, "b", "c", to: ["b", "c"])
        advance(h, Self.lease)
        h.tick("b")
        XCTAssertEqual(h["b"].duty, .primary(.serving))
        // The transfer to c completes and a batch wins b a lease, b's own log still behind.
        deliverAll(h, persisting: ["c"])
        h.request("b", .put, "other", "x", client: 3)
        deliverAll(h, persisting: ["c"])
        XCTAssertTrue(h["b"].persistedLSN < h["b"].lastLSN, "b's log is behind: the case under test")
        let get = h.request("b", .get, "k")
        XCTAssertNil(h.reply(get), "k's deletion is not in b's log yet: a power cut could bring k back")
        h.persist("b")
        XCTAssertEqual(h.reply(get), ClientReply(status: .noKey))
    }
}
