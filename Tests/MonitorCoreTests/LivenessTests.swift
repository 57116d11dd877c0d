import XCTest

/// docs/DESIGN.md §2.5: liveness is counted in ticks, never read off the clock.
///
/// A server is alive while at most `deadPings` ticks have passed since its last ping. One
/// that pinged between ticks t and t+1 has missed no ping at tick t+1 and has missed
/// `deadPings` pings at tick t+1+deadPings, which declares it dead: with the defaults
/// (5 pings, 100 ms) that is 500–600 ms after its last ping, "dead after missing 5 pings".
/// In the scripts a server's pings in `tick N pinging ...` come before each tick, so after
/// such a line it has gone 1 tick without a ping.
final class LivenessTests: XCTestCase {
    func testLivenessIsCountedInTicksNotByTheClock() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            advance 3600000                   # the monitor was paused for an hour
            tick 1
            expect view 2 s1 s2 acked         # ... which kills nobody
            expect servers s1:primary:alive:age=3600100 s2:backup:alive:age=3600100
            tick 4 every 0                    # ticks count even when the clock stands still
            expect servers s1:primary:alive s2:backup:alive   # 5 ticks without a ping: alive
            tick 1 every 0                    # 6 ticks: both missed 5 pings
            expect servers s1:primary:dead s2:backup:dead
            expect view 2 s1 s2 acked         # nobody is left to take over
            """)
    }

    func testServerIsAliveAfterDeadPingsTicksWithoutAPingAndDeadAfterOneMore() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            tick 5 pinging s1:2               # deadPings ticks without a ping from s2 (4 pings missed)
            expect servers s1:primary:alive s2:backup:alive:age=500
            expect view 2 s1 s2 acked
            expect events none
            tick 1 pinging s1:2               # deadPings + 1 ticks: s2 missed deadPings pings
            expect servers s1:primary:alive s2:idle:dead:age=600
            expect view 3 s1 - unacked
            expect events died:s2 changed:3:s1:-:backupFailed
            ping s1 3 -> view 3 s1 - acked
            tick 10 pinging s1:3
            expect events acked:3             # a death is reported once
            """)
    }

    func testDeathComes500To600MsAfterTheLastPing() {
        // Ticks fall at 100, 200, ... ms. s2 pings just after the tick at 100 ms and s3 just
        // before the one at 200 ms: both have missed no ping at 200 ms and both have missed 5
        // at 700 ms, which declares them dead 599 and 501 ms after their last pings.
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            tick 1                            # 100 ms
            advance 1
            ping s2 2 -> view 2 s1 s2 acked   # 101 ms
            advance 98
            ping s3 0 -> view 2 s1 s2 acked   # 199 ms
            tick 1 every 1 pinging s1:2       # 200 ms
            expect servers s1:primary:alive s2:backup:alive:age=99 s3:idle:alive:age=1
            drain
            tick 4 pinging s1:2               # 600 ms: 5 ticks since their pings
            expect servers s1:primary:alive s2:backup:alive:age=499 s3:idle:alive:age=401
            expect events none
            tick 1 pinging s1:2               # 700 ms
            expect servers s1:primary:alive s2:idle:dead:age=599 s3:idle:dead:age=501
            expect view 3 s1 - unacked        # the dead idle server is not picked
            expect events died:s2 died:s3 changed:3:s1:-:backupFailed
            """)
    }

    func testDeadPingsIsConfigurableAndAPingRestartsTheCount() {
        runMonitorScript(
            """
            monitor deadPings=3
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            tick 3 pinging s1:2               # 3 ticks since s2's last ping: still alive
            expect servers s1:primary:alive s2:backup:alive
            ping s2 2                         # just in time: the count starts again
            tick 3 pinging s1:2
            expect servers s1:primary:alive s2:backup:alive
            expect view 2 s1 s2 acked
            tick 1 pinging s1:2               # 4 ticks since s2's last ping: it missed 3 pings
            expect servers s1:primary:alive s2:idle:dead
            expect view 3 s1 - unacked
            """)
    }

    func testDeadPingsOf1KeepsAServerPingingEveryTickAlive() {
        runMonitorScript(
            """
            monitor deadPings=1
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            tick 50 pinging s1 s2             # one ping per tick each: never dead
            expect servers s1:primary:alive s2:backup:alive
            expect view 2 s1 s2 acked
            expect events none
            tick 1 every 0 pinging s1 s2      # however close the ticks
            expect servers s1:primary:alive s2:backup:alive   # 1 tick since each one's ping
            expect events none
            tick 1 pinging s1                 # 2 ticks: s2 missed a ping, and 1 is enough
            expect servers s1:primary:alive s2:idle:dead
            expect view 3 s1 - unacked
            expect events died:s2 changed:3:s1:-:backupFailed
            """)
    }
}
