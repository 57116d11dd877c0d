import XCTest

/// DESIGN §2, rule 5: liveness is counted in ticks, never read off the clock.
final class LivenessTests: XCTestCase {
    func testLivenessIsCountedInTicksNotByTheClock() {
        runMonitorScript("""
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            advance 3600000                   # the monitor was paused for an hour
            tick 1
            expect view 2 s1 s2 acked         # ... which kills nobody
            expect servers s1:primary:alive:age=3600100 s2:backup:alive:age=3600100
            tick 3 every 0                    # ticks count even when the clock stands still
            expect servers s1:primary:alive s2:backup:alive
            tick 1 every 0
            expect servers s1:primary:dead s2:backup:dead
            """)
    }

    func testServerIsDeadExactlyAfterDeadPingsTicksWithoutAPing() {
        runMonitorScript("""
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            tick 4 pinging s1:2               # deadPings - 1 ticks without a ping from s2
            expect servers s1:primary:alive s2:backup:alive
            expect view 2 s1 s2 acked
            expect events none
            tick 1 pinging s1:2               # deadPings ticks
            expect servers s1:primary:alive s2:idle:dead
            expect view 3 s1 - unacked
            expect events died:s2 changed:3:s1:-:backupFailed
            ping s1 3 -> view 3 s1 - acked
            tick 10 pinging s1:3
            expect events acked:3             # a death is reported once
            """)
    }

    func testDeadPingsIsConfigurableAndAPingRestartsTheCount() {
        runMonitorScript("""
            monitor deadPings=3
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            tick 2 pinging s1:2
            ping s2 2                         # just in time: the count starts again
            tick 2 pinging s1:2
            expect servers s1:primary:alive s2:backup:alive
            expect view 2 s1 s2 acked
            tick 1 pinging s1:2               # 3 ticks since s2's last ping
            expect servers s1:primary:alive s2:idle:dead
            expect view 3 s1 - unacked
            """)
    }
}
