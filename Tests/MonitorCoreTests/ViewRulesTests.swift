import XCTest

/// docs/DESIGN.md §2.1–§2.3: who becomes primary and backup, and when the view may change.
///
/// Most scripts start from the same four pings, which leave view 2 with primary s1 and
/// backup s2, acknowledged, at tick 0 and clock 0. A server is dead once more than
/// `deadPings` (5) ticks have passed since its last ping; in `tick N pinging ...` the pings
/// come before each tick, so a server that pinged there has gone 1 tick without a ping.
final class ViewRulesTests: XCTestCase {
    // MARK: Rule 1: the first primary

    func testNoPrimaryBeforeAnyPing() {
        runMonitorScript(
            """
            expect view 0 - - unacked
            tick 10
            expect view 0 - - unacked         # ticks alone never make a view
            expect servers none
            expect saves 0
            expect events none
            """)
    }

    func testFirstPingerBecomesPrimaryOfView1Unacknowledged() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            expect events joined:s1 changed:1:s1:-:firstPrimary
            ping s2 0 -> view 1 s1 - unacked  # later pingers neither take over nor join view 1
            ping s3 0 -> view 1 s1 - unacked
            expect servers s1:primary:alive s2:idle:alive s3:idle:alive
            expect saved 1/unacked
            """)
    }

    func testFirstBackupJoinsOnceTheFirstViewIsAcknowledged() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s2 0 -> view 1 s1 - unacked  # view 1 is not acknowledged: s2 waits
            ping s1 1 -> view 2 s1 s2 unacked # the acknowledgement lets s2 in at once
            expect events joined:s1 changed:1:s1:-:firstPrimary joined:s2 acked:1 changed:2:s1:s2:backupAdded
            ping s2 2 -> view 2 s1 s2 unacked # only the primary acknowledges
            ping s1 2 -> view 2 s1 s2 acked
            expect servers s1:primary:alive:vn=2 s2:backup:alive:vn=2
            """)
    }

    // MARK: Rule 3: failures once the view is acknowledged

    func testBackupTakesOverWhenThePrimaryDies() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            tick 5 pinging s2:2
            expect view 2 s1 s2 acked         # 5 ticks since s1's last ping: still alive
            expect events none
            tick 1 pinging s2:2
            expect view 3 s2 - unacked        # 6 ticks (5 pings missed): dead; no idle server to be backup
            expect events died:s1 changed:3:s2:-:primaryFailed
            expect servers s1:idle:dead s2:primary:alive
            ping s2 3 -> view 3 s2 - acked
            ping s3 0 -> view 4 s2 s3 unacked # an idle server becomes the new backup
            expect events acked:3 joined:s3 changed:4:s2:s3:backupAdded
            ping s1 2 -> view 4 s2 s3 unacked # the old primary comes back as a mere idle server
            expect servers s1:idle:alive s2:primary:alive s3:backup:alive
            expect events none
            """)
    }

    func testIdleThirdServerBecomesBackupWhenThePrimaryFails() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            ping s3 0 -> view 2 s1 s2 acked   # there is a backup: s3 stays idle
            tick 10 pinging s1:2 s2:2 s3:2
            expect view 2 s1 s2 acked
            expect servers s1:primary:alive s2:backup:alive s3:idle:alive
            drain
            tick 4 pinging s2:2 s3:2          # 1 + 4 = 5 ticks since s1's last ping
            expect view 2 s1 s2 acked
            tick 1 pinging s2:2 s3:2          # 6
            expect view 3 s2 s3 unacked       # promotion and new backup in one view change
            expect events died:s1 changed:3:s2:s3:primaryFailed
            """)
    }

    func testRestartedServerBecomesBackup() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            tick 6 pinging s2:2
            expect view 3 s2 - unacked
            ping s2 3 -> view 3 s2 - acked
            drain
            ping s1 0 -> view 4 s2 s1 unacked # s1 restarted empty; it is idle, so it becomes backup
            expect events changed:4:s2:s1:backupAdded
            expect servers s1:backup:alive:vn=0 s2:primary:alive:vn=3
            """)
    }

    func testRestartedPrimaryIsTreatedAsDead() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            # s1 restarted after acknowledging: it is alive but lost its data. The backup is
            # promoted at once; s1, now live and idle, may come back as the (empty) backup.
            ping s1 0 -> view 3 s2 s1 unacked
            expect events restarted:s1:primary changed:3:s2:s1:primaryFailed
            ping s2 3 -> view 3 s2 s1 acked
            tick 10 pinging s1 s2             # both ping with the view they received
            expect view 3 s2 s1 acked
            expect events acked:3
            """)
    }

    func testRestartedBackupIsReplacedInANewView() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            ping s2 2 -> view 2 s1 s2 acked
            drain
            # s2 pings 0 while backup: it restarted and lost its data. It is replaced, here by
            # itself as a fresh backup, under a new view number so the primary transfers again.
            ping s2 0 -> view 3 s1 s2 unacked
            expect events restarted:s2:backup changed:3:s1:s2:backupFailed
            ping s2 3 -> view 3 s1 s2 unacked # it received view 3: nothing more to do
            ping s1 3 -> view 3 s1 s2 acked
            tick 10 pinging s1 s2
            expect view 3 s1 s2 acked
            expect events acked:3
            """)
    }

    func testDeadBackupIsRemovedWhenNoIdleServerIsLeft() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            tick 5 pinging s1:2
            expect view 2 s1 s2 acked
            tick 1 pinging s1:2
            expect view 3 s1 - unacked
            expect events died:s2 changed:3:s1:-:backupFailed
            ping s1 3 -> view 3 s1 - acked
            tick 20 pinging s1:3
            expect view 3 s1 - acked          # a dead server is never made backup
            expect servers s1:primary:alive s2:idle:dead
            ping s2 2 -> view 4 s1 s2 unacked # cut off, not restarted: live and idle again
            """)
    }

    func testDeadBackupIsReplacedByAnIdleServer() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            ping s3 0 -> view 2 s1 s2 acked
            drain
            tick 5 pinging s1:2 s3:2
            expect view 2 s1 s2 acked
            expect events none
            tick 1 pinging s1:2 s3:2
            expect view 3 s1 s3 unacked       # s2 (first by address) is dead, so not picked again
            expect events died:s2 changed:3:s1:s3:backupFailed
            expect servers s1:primary:alive s2:idle:dead s3:backup:alive
            """)
    }

    // MARK: Rule 2: acknowledgement

    func testNoViewChangeUntilThePrimaryAcknowledges() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s2 0 -> view 1 s1 - unacked  # no backup is added to an unacknowledged view
            tick 10 pinging s1:0 s2:0         # s1's replies were lost: 0 is no restart yet
            expect view 1 s1 - unacked
            expect servers s1:primary:alive s2:idle:alive
            ping s1 1 -> view 2 s1 s2 unacked # acknowledged: the waiting change happens at once
            ping s3 0 -> view 2 s1 s2 unacked
            tick 10 pinging s1:1 s2:2 s3:0    # s1 still pings 1: view 2 stays unacknowledged
            expect view 2 s1 s2 unacked
            expect servers s1:primary:alive:vn=1 s2:backup:alive:vn=2 s3:idle:alive:vn=0
            ping s1 2 -> view 2 s1 s2 acked
            expect saved 1/unacked 1/acked 2/unacked 2/acked
            """)
    }

    func testPrimaryDyingBeforeAcknowledgingIsNotReplaced() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s3 0 -> view 2 s1 s2 unacked
            drain
            tick 20 pinging s2:2 s3:2         # s1 dies without acknowledging view 2
            expect view 2 s1 s2 unacked       # s2 may not have the data: nobody is promoted
            expect servers s1:primary:dead s2:backup:alive s3:idle:alive
            expect events died:s1 waiting:2
            ping s1 2 -> view 2 s1 s2 acked   # s1 comes back and acknowledges
            tick 5 pinging s2:2 s3:2
            expect view 2 s1 s2 acked
            tick 1 pinging s2:2 s3:2          # now its death promotes the backup
            expect view 3 s2 s3 unacked
            expect events acked:2 died:s1 changed:3:s2:s3:primaryFailed
            """)
    }

    func testDeadBackupIsReplacedEvenBeforeTheViewIsAcknowledged() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s3 0 -> view 2 s1 s2 unacked
            drain
            tick 5 pinging s1:1 s3:2          # s1 never acknowledges view 2
            expect view 2 s1 s2 unacked
            tick 1 pinging s1:1 s3:2
            expect view 3 s1 s3 unacked       # the exception: same primary, backup replaced
            expect events died:s2 changed:3:s1:s3:backupFailed
            tick 4 pinging s1:1               # s3 stops pinging: 1 + 4 = 5 ticks, still alive
            expect view 3 s1 s3 unacked
            tick 1 pinging s1:1               # s3 dies too, and no idle server is left
            expect view 4 s1 - unacked        # the dead backup is dropped
            expect events died:s3 changed:4:s1:-:backupFailed
            ping s1 4 -> view 4 s1 - acked
            """)
    }

    func testRestartedBackupIsReplacedEvenBeforeTheViewIsAcknowledged() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s2 2 -> view 2 s1 s2 unacked
            drain
            ping s2 0 -> view 3 s1 s2 unacked # s1 has not acknowledged view 2, primary unchanged
            expect events restarted:s2:backup changed:3:s1:s2:backupFailed
            """)
    }

    // MARK: Rule 3: an idle server is never made primary

    func testIdleServerNeverBecomesPrimaryWhenAPrimaryWithoutBackupDies() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            tick 5
            expect servers s1:primary:alive
            tick 1
            expect servers s1:primary:dead
            ping s2 0 -> view 1 s1 - acked    # s2 has none of the data: it must not be primary
            tick 20 pinging s2
            expect view 1 s1 - acked
            expect servers s1:primary:dead s2:idle:alive
            expect saves 2
            ping s1 1 -> view 2 s1 s2 unacked # s1 was only cut off and kept its data
            """)
    }

    func testIdleServerNeverBecomesPrimaryWhenPrimaryAndBackupDie() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            ping s3 0 -> view 2 s1 s2 acked
            tick 5 pinging s3:2
            expect servers s1:primary:alive s2:backup:alive s3:idle:alive
            tick 1 pinging s3:2               # s1 and s2 die on the same tick
            expect servers s1:primary:dead s2:backup:dead s3:idle:alive
            expect events joined:s1 changed:1:s1:-:firstPrimary acked:1 joined:s2 changed:2:s1:s2:backupAdded acked:2 joined:s3 died:s1 died:s2 waiting:2
            tick 20 pinging s3:2
            expect view 2 s1 s2 acked
            expect saves 4
            """)
    }

    func testIdleServerNeverBecomesPrimaryWhenAPrimaryWithoutBackupRestarts() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s1 0 -> view 0 - - unacked   # s1 restarted: its data is gone and nobody else has it
            ping s2 0 -> view 1 s1 - acked    # so nothing changes: s2 is neither primary nor backup
            tick 20 pinging s1 s2
            expect view 1 s1 - acked
            expect events joined:s1 changed:1:s1:-:firstPrimary acked:1 restarted:s1:primary waiting:1 joined:s2
            """)
    }
}
