import KVProtocol
import MonitorCore
import XCTest

/// The leadership rules of several monitors (docs/DESIGN.md §2.10), one event at a time.
final class ElectionTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000
    private let view3 = View(viewnum: 3, primary: "s1:1", backup: "s2:1", acked: true)

    private func election(imported: View? = nil) -> MonitorElection {
        MonitorElection(config: ElectionConfig(address: "m1:7100", leaseTTL: 3 * second, importedView: imported))
    }

    /// Starts `election` and wins its first campaign at time 0 with `stored` in etcd.
    private func won(_ election: inout MonitorElection, stored: StoredView?, token: Int64 = 10) -> [ElectionEffect] {
        XCTAssertEqual(election.step(.clock, at: 0), [.campaign(leaseSeconds: 3)])
        return election.step(.campaigned(.won(lease: 77, ttlSeconds: 3, token: token, view: stored)), at: 0)
    }

    func testWinningTheFirstCampaignLeadsFromEtcdsViewAndWatches() {
        var e = election()
        let effects = won(&e, stored: StoredView(view: view3, revision: 8))
        XCTAssertEqual(
            effects,
            [
                .watch(fromRevision: 11), .lead(view3), .notice(.becameLeader(token: 10, view: view3)),
            ])
        XCTAssertTrue(e.isLeading)
        XCTAssertEqual(e.leaderAddress, "m1:7100")
        XCTAssertEqual(e.write(view3), .writeView(view3, token: 10, expectedRevision: 8))
    }

    func testKeepAlivesEveryThirdOfTheLeaseOneAtATime() {
        var e = election()
        _ = won(&e, stored: nil)
        XCTAssertEqual(e.step(.clock, at: second - 1), [])
        XCTAssertEqual(e.step(.clock, at: second), [.keepAlive(lease: 77)])
        XCTAssertEqual(e.step(.clock, at: 2 * second), [], "one keep-alive in flight at a time")
        XCTAssertEqual(e.step(.keepAliveAnswered(lease: 77, alive: true), at: 2 * second), [])
        XCTAssertEqual(e.step(.clock, at: 2 * second), [.keepAlive(lease: 77)], "due: a third after its send time")
    }

    /// Validity runs from the send time of the last answered keep-alive, on the
    /// monitor's own clock, less the margin: an answer that comes late extends nothing
    /// beyond what its send time allows.
    func testLeadershipEndsOnItsOwnClockWhenNoKeepAliveIsAnswered() {
        var e = election()
        _ = won(&e, stored: nil)
        _ = e.step(.clock, at: second)  // keep-alive sent at 1 s
        XCTAssertEqual(
            e.step(.keepAliveFailed(lease: 77, error: "timeout"), at: 2 * second),
            [.notice(.storeUnavailable("timeout"))])
        XCTAssertEqual(e.step(.clock, at: 2 * second), [.keepAlive(lease: 77)], "retried at the next clock")
        XCTAssertTrue(e.isLeading)
        // Lease 3 s, margin 0.3 s, counted from the grant's send time (0).
        let effects = e.step(.clock, at: 2_700_000_000)
        XCTAssertEqual(effects.first, .stopLeading)
        XCTAssertTrue(effects.contains(.revoke(lease: 77)))
        XCTAssertFalse(e.isLeading)
        XCTAssertNil(e.write(view3), "nothing may be written once leadership ended")
        // The keep-alive sent at 2 s is answered after the step-down: ignored.
        XCTAssertEqual(e.step(.keepAliveAnswered(lease: 77, alive: true), at: 2_800_000_000), [])
        XCTAssertFalse(e.isLeading)
    }

    func testAnsweredKeepAliveExtendsValidityFromItsSendTime() {
        var e = election()
        _ = won(&e, stored: nil)
        _ = e.step(.clock, at: second)
        _ = e.step(.keepAliveAnswered(lease: 77, alive: true), at: 2_500_000_000)
        XCTAssertEqual(e.step(.clock, at: 3_600_000_000), [.keepAlive(lease: 77)])
        XCTAssertTrue(e.isLeading, "valid until 1 s + 3 s - 0.3 s")
        XCTAssertEqual(e.step(.clock, at: 3_700_000_000).first, .stopLeading)
    }

    func testAKeepAliveWithoutTTLMeansTheLeaseIsGone() {
        var e = election()
        _ = won(&e, stored: nil)
        _ = e.step(.clock, at: second)
        let effects = e.step(.keepAliveAnswered(lease: 77, alive: false), at: second + 1)
        XCTAssertEqual(effects.prefix(2), [.stopLeading, .revoke(lease: 77)])
    }

    func testARefusedViewWriteIsAStepDown() {
        var e = election()
        _ = won(&e, stored: StoredView(view: view3, revision: 8))
        let next = View(viewnum: 4, primary: "s2:1", backup: "", acked: false)
        XCTAssertEqual(e.write(next), .writeView(next, token: 10, expectedRevision: 8))
        XCTAssertEqual(e.step(.viewWritten(next, revision: 12), at: 10), [])
        XCTAssertEqual(e.knownView, StoredView(view: next, revision: 12))
        let after = View(viewnum: 5, primary: "s2:1", backup: "s3:1", acked: false)
        XCTAssertEqual(e.write(after), .writeView(after, token: 10, expectedRevision: 12), "fenced on the last write")
        let effects = e.step(.viewWriteFailed(after, error: "compare failed"), at: 20)
        XCTAssertEqual(effects.prefix(2), [.stopLeading, .revoke(lease: 77)])
        XCTAssertNil(e.write(after))
    }

    func testLosingFollowsTheLeaderAndCampaignsWhenItsKeyGoes() {
        var e = election()
        _ = e.step(.clock, at: 0)
        let snapshot = ControlPlaneSnapshot(
            leader: LeaderRecord(address: "m2:7100", createRevision: 5), view: StoredView(view: view3, revision: 8),
            revision: 20)
        XCTAssertEqual(
            e.step(.campaigned(.lost(snapshot)), at: 0),
            [.watch(fromRevision: 21), .notice(.following(leader: "m2:7100"))])
        XCTAssertFalse(e.isLeading)
        XCTAssertEqual(e.leaderAddress, "m2:7100")
        XCTAssertEqual(e.knownView?.view, view3)
        let view4 = View(viewnum: 4, primary: "s2:1", backup: "s3:1", acked: false)
        XCTAssertEqual(e.step(.watched([.viewSet(StoredView(view: view4, revision: 22))], revision: 22), at: 1), [])
        XCTAssertEqual(e.knownView?.view, view4, "a follower's view follows the watch")
        XCTAssertEqual(e.step(.watched([.leaderGone], revision: 23), at: 2), [.campaign(leaseSeconds: 3)])
    }

    func testAFollowerRereadsWhenItsWatchEndsAndEveryLease() {
        var e = election()
        _ = e.step(.clock, at: 0)
        let snapshot = ControlPlaneSnapshot(
            leader: LeaderRecord(address: "m2:7100", createRevision: 5), view: nil, revision: 20)
        _ = e.step(.campaigned(.lost(snapshot)), at: 0)
        // A keep-alive interval after the watch started at the most: one that keeps
        // ending at once is not restarted in a loop.
        XCTAssertEqual(e.step(.watchEnded("compacted"), at: 1), [])
        XCTAssertEqual(e.step(.clock, at: second), [.read])
        XCTAssertEqual(e.step(.read(snapshot), at: second + 1), [.watch(fromRevision: 21)], "the watch starts again")
        XCTAssertEqual(e.step(.clock, at: 4 * second - 1), [])
        XCTAssertEqual(e.step(.clock, at: 4 * second), [.read], "in case the watch died silently")
        let gone = ControlPlaneSnapshot(leader: nil, view: nil, revision: 30)
        XCTAssertEqual(
            e.step(.read(gone), at: 4 * second + 1), [.watch(fromRevision: 31), .campaign(leaseSeconds: 3)],
            "every read starts a new watch: one that died without a word is replaced")
    }

    /// A read sent before a campaign that won (or a change the watch brought) is older
    /// than what the monitor knows: it must not undo it.
    func testAReadOlderThanWhatIsKnownIsIgnored() {
        var e = election()
        let stale = ControlPlaneSnapshot(
            leader: LeaderRecord(address: "m2:7100", createRevision: 5), view: nil, revision: 8)
        _ = won(&e, stored: nil, token: 10)
        XCTAssertEqual(e.step(.read(stale), at: 1), [], "no step-down on an old read")
        XCTAssertTrue(e.isLeading)
    }

    /// The state file's view is offered until it is in etcd: again after an import that
    /// failed, never after one that landed (an etcd that later has no view has lost its
    /// keys, and the file's view is older than the last handed out).
    func testTheFilesViewIsImportedUntilItLandsAndNeverAfter() {
        let fileView = View(viewnum: 9, primary: "s1:1", backup: "s2:1", acked: true)
        var e = election(imported: fileView)
        _ = won(&e, stored: nil)
        _ = e.step(.viewWriteFailed(fileView, error: "no answer"), at: 1)
        XCTAssertFalse(e.isLeading)
        _ = e.step(.clock, at: 2 * second)
        let again = e.step(.campaigned(.won(lease: 78, ttlSeconds: 3, token: 20, view: nil)), at: 2 * second)
        XCTAssertTrue(again.contains(.writeView(fileView, token: 20, expectedRevision: 0)), "\(again)")
        _ = e.step(.viewWritten(fileView, revision: 21), at: 2 * second + 1)
        XCTAssertTrue(e.isLeading)
        _ = e.step(.watched([.leaderGone], revision: 30), at: 2 * second + 2)
        _ = e.step(.clock, at: 4 * second)
        let third = e.step(.campaigned(.won(lease: 79, ttlSeconds: 3, token: 40, view: nil)), at: 4 * second)
        XCTAssertTrue(third.contains(.lead(.initial)), "imported once, never again: \(third)")
    }

    func testALeaderKeyNamingThisMonitorsPreviousRunIsNoLeaderToRedirectTo() {
        var e = election()
        _ = e.step(.clock, at: 0)
        let stale = ControlPlaneSnapshot(
            leader: LeaderRecord(address: "m1:7100", createRevision: 5), view: nil, revision: 20)
        _ = e.step(.campaigned(.lost(stale)), at: 0)
        XCTAssertFalse(e.isLeading)
        XCTAssertEqual(e.leaderAddress, "", "never sends servers to itself")
    }

    func testEtcdUnreachableIsReportedOnceAndCampaignsAreRetried() {
        var e = election()
        _ = e.step(.clock, at: 0)
        XCTAssertEqual(
            e.step(.campaignFailed("connection refused"), at: 0), [.notice(.storeUnavailable("connection refused"))])
        XCTAssertFalse(e.storeReachable)
        XCTAssertEqual(e.step(.clock, at: second - 1), [])
        XCTAssertEqual(e.step(.clock, at: second), [.campaign(leaseSeconds: 3)])
        XCTAssertEqual(e.step(.campaignFailed("connection refused"), at: second), [], "reported once")
        _ = e.step(.clock, at: 2 * second)
        let effects = e.step(.campaigned(.won(lease: 1, ttlSeconds: 3, token: 4, view: nil)), at: 2 * second)
        XCTAssertEqual(effects.first, .notice(.storeAvailable))
        XCTAssertTrue(e.isLeading)
    }

    func testANewerViewFileIsWrittenToEtcdBeforeLeading() {
        let fileView = View(viewnum: 9, primary: "s1:1", backup: "s2:1", acked: true)
        var e = election(imported: fileView)
        let effects = won(&e, stored: StoredView(view: view3, revision: 8))
        XCTAssertEqual(effects, [.watch(fromRevision: 11), .writeView(fileView, token: 10, expectedRevision: 8)])
        XCTAssertFalse(e.isLeading, "decides nothing before the import is written")
        XCTAssertEqual(
            e.step(.viewWritten(fileView, revision: 12), at: 1),
            [.notice(.viewImported(fileView)), .lead(fileView), .notice(.becameLeader(token: 10, view: fileView))])
        XCTAssertTrue(e.isLeading)
    }

    func testAnOlderViewFileIsNotImported() {
        var e = election(imported: View(viewnum: 2, primary: "s1:1", backup: "", acked: true))
        XCTAssertEqual(won(&e, stored: StoredView(view: view3, revision: 8)).dropFirst().first, .lead(view3))
    }

    func testAnotherLeaderKeyOrItsDisappearanceSeenByTheWatchIsAStepDown() {
        var e = election()
        _ = won(&e, stored: nil)
        XCTAssertEqual(
            e.step(.watched([.leaderSet(LeaderRecord(address: "m1:7100", createRevision: 10))], revision: 11), at: 1),
            [], "its own key")
        XCTAssertEqual(e.step(.watched([.leaderGone], revision: 12), at: 2).first, .stopLeading)
    }
}
