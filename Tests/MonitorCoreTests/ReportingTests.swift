import KVProtocol
import MonitorCore
import XCTest

/// docs/DESIGN.md §2.4 and §2.7 (what the monitor reports), its events, and view numbers.
final class ReportingTests: XCTestCase {
    func testServersReportsRoleLastPingAgeViewnumAndLiveness() {
        runMonitorScript(
            """
            expect servers none
            ping s1 0 -> view 1 s1 - unacked
            advance 250
            ping s1 1 -> view 1 s1 - acked
            advance 100
            ping s2 0 -> view 2 s1 s2 unacked
            advance 50
            ping s3 0 -> view 2 s1 s2 unacked # idle servers are remembered too
            advance 25
            expect servers s1:primary:alive:age=175:vn=1 s2:backup:alive:age=75:vn=0 s3:idle:alive:age=25:vn=0
            tick 5 every 1000 pinging s1:2 s3:2
            expect servers s1:primary:alive:age=1000:vn=2 s2:backup:alive:age=5075:vn=0 s3:idle:alive:age=1000:vn=2
            tick 1 every 1000 pinging s1:2 s3:2
            expect view 3 s1 s3 unacked
            expect servers s1:primary:alive:age=1000:vn=2 s2:idle:dead:age=6075:vn=0 s3:backup:alive:age=1000:vn=2
            """)
    }

    func testViewNumbersOnlyIncrease() {
        // The interpreter also checks, after every step, that the view number never goes
        // down and that each new view is numbered one more than the one it replaces.
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            ping s3 0 -> view 2 s1 s2 acked
            tick 6 pinging s2 s3              # s1 dies
            expect view 3 s2 s3 unacked
            ping s2 3 -> view 3 s2 s3 acked
            ping s1 0 -> view 3 s2 s3 acked   # s1 is back, idle
            tick 5 pinging s1 s2              # s3 dies (1 + 5 = 6 ticks since its last ping)
            expect view 4 s2 s1 unacked
            ping s2 4 -> view 4 s2 s1 acked
            restart monitor
            ping s1 4 -> view 4 s2 s1 acked   # (the backup heard: it may be promoted)
            ping s2 0 -> view 5 s1 s2 unacked # s2 restarted: the count goes on after the monitor's restart
            expect saved 1/unacked 1/acked 2/unacked 2/acked 3/unacked 3/acked 4/unacked 4/acked 5/unacked
            """)
    }

    func testDrainEventsReportsViewChangesWithTheirReasons() {
        runMonitorScript(
            """
            expect events none
            ping s1 0 -> view 1 s1 - unacked
            expect events joined:s1 changed:1:s1:-:firstPrimary
            expect events none                # drained
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            expect events acked:1 joined:s2 changed:2:s1:s2:backupAdded
            ping s1 2 -> view 2 s1 s2 acked
            ping s3 0 -> view 2 s1 s2 acked
            ping s2 0 -> view 3 s1 s2 unacked
            expect events acked:2 joined:s3 restarted:s2:backup changed:3:s1:s2:backupFailed
            ping s1 3 -> view 3 s1 s2 acked
            tick 6 pinging s2 s3
            expect view 4 s2 s3 unacked
            expect events acked:3 died:s1 changed:4:s2:s3:primaryFailed
            ping s2 4 -> view 4 s2 s3 acked
            ping s2 0 -> view 5 s3 s2 unacked
            expect events acked:4 restarted:s2:primary changed:5:s3:s2:primaryFailed
            """)
    }

    /// The same through the API itself: exact `from`/`to` views, reasons and error text.
    func testNoticesComeOnceInOrder() {
        var monitor = ImmediateStore()
        XCTAssertEqual(monitor.drainNotices(), [])

        let v1 = View(viewnum: 1, primary: "s1", backup: "")
        XCTAssertEqual(monitor.ping(from: "s1", viewnum: 0, at: 0), v1)
        XCTAssertEqual(
            monitor.drainNotices(),
            [.serverJoined(address: "s1"), .viewChanged(from: .initial, to: v1, reason: .firstPrimary)])
        XCTAssertEqual(monitor.drainNotices(), [])

        let v1a = View(viewnum: 1, primary: "s1", backup: "", acked: true)
        let v2 = View(viewnum: 2, primary: "s1", backup: "s2")
        let v2a = View(viewnum: 2, primary: "s1", backup: "s2", acked: true)
        XCTAssertEqual(monitor.ping(from: "s1", viewnum: 1, at: 0), v1a)
        XCTAssertEqual(monitor.ping(from: "s2", viewnum: 0, at: 0), v2)
        XCTAssertEqual(monitor.ping(from: "s1", viewnum: 2, at: 0), v2a)
        XCTAssertEqual(
            monitor.drainNotices(),
            [
                .viewAcknowledged(v1a), .serverJoined(address: "s2"),
                .viewChanged(from: v1a, to: v2, reason: .backupAdded), .viewAcknowledged(v2a),
            ])

        monitor.failure = DiskFull().description
        for tick in 1...5 {
            monitor.ping(from: "s2", viewnum: 2, at: UInt64(tick - 1) * 100)
            monitor.tick(at: UInt64(tick) * 100)
        }
        // deadPings (5) ticks since s1's last ping: still alive, so nothing happened.
        XCTAssertEqual(monitor.core.servers(at: 500).map(\.alive), [true, true])
        XCTAssertEqual(monitor.drainNotices(), [])
        monitor.ping(from: "s2", viewnum: 2, at: 500)
        monitor.tick(at: 600)
        let v3 = View(viewnum: 3, primary: "s2", backup: "")
        XCTAssertEqual(monitor.core.view, v2a)
        XCTAssertEqual(monitor.core.servers(at: 600).map(\.alive), [false, true])
        XCTAssertEqual(
            monitor.drainNotices(),
            [.serverDied(address: "s1"), .persistFailed(wanted: v3, error: "no space left on device")])

        monitor.failure = nil
        monitor.tick(at: 700)
        XCTAssertEqual(monitor.core.view, v3)
        XCTAssertEqual(monitor.drainNotices(), [.viewChanged(from: v2a, to: v3, reason: .primaryFailed)])
        XCTAssertEqual(monitor.saved, [v1, v1a, v2, v2a, v3])
    }

    func testServersThatDieAtOneTickAreReportedInAddressOrder() {
        // Not in the table's order, which the process's hash seed decides: a simulation
        // replays the same notices in every process.
        var monitor = ImmediateStore()
        let names = ["s5", "s3", "s9", "s1", "s7", "s2", "s8", "s4", "s6"]
        for name in names { monitor.ping(from: name, viewnum: 0, at: 0) }
        _ = monitor.drainNotices()
        for tick in 1...6 { monitor.tick(at: UInt64(tick) * 100) }
        let died = monitor.drainNotices().compactMap { notice -> String? in
            if case .serverDied(let address) = notice { return address }
            return nil
        }
        XCTAssertEqual(died, names.sorted())
    }

    func testReasonsHaveReadableDescriptions() {
        XCTAssertEqual(ViewChangeReason.firstPrimary.rawValue, "first primary")
        XCTAssertEqual(ViewChangeReason.primaryFailed.rawValue, "primary failed, backup promoted")
        XCTAssertEqual(ViewChangeReason.backupFailed.rawValue, "backup failed, replaced")
        XCTAssertEqual(ViewChangeReason.backupAdded.rawValue, "idle server became backup")
    }
}
