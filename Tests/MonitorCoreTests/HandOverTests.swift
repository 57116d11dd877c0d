import XCTest

/// Planned hand-overs: an admin's switchover and a server's graceful leave.
///
/// Both move the primary role to the backup without waiting for a death, so both are
/// held to the rule that makes a promotion safe: the view must be acknowledged (its
/// backup holds the whole state). Scripts start from view 2 = (s1, s2), acknowledged,
/// with s3 idle where it matters.
final class HandOverTests: XCTestCase {
    private let twoServers = """
        ping s1 0 -> view 1 s1 - unacked
        ping s1 1 -> view 1 s1 - acked
        ping s2 0 -> view 2 s1 s2 unacked
        ping s1 2 -> view 2 s1 s2 acked
        ping s2 2 -> view 2 s1 s2 acked
        drain
        """

    private var threeServers: String {
        twoServers + "\nping s3 0 -> view 2 s1 s2 acked\ndrain\n"
    }

    // MARK: Switchover

    func testSwitchoverSwapsPrimaryAndBackup() {
        runMonitorScript(
            twoServers + """

                switchover from 2 -> view 3 s2 s1 unacked
                expect events changed:3:s2:s1:switchover
                expect stored view 3 s2 s1 unacked
                ping s1 3 -> view 3 s2 s1 unacked  # the old primary, now backup, cannot acknowledge
                ping s2 3 -> view 3 s2 s1 acked
                switchover from 3 -> view 4 s1 s2 unacked  # and back again, once acknowledged
                """)
    }

    func testSwitchoverWaitsForTheAcknowledgement() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            switchover -> refused notAcknowledged  # s2 may not hold the state yet
            expect view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            switchover -> refused backupUnconfirmed  # s2 has not pinged in view 2 yet
            ping s2 2 -> view 2 s1 s2 acked
            switchover -> view 3 s2 s1 unacked
            """)
    }

    func testSwitchoverIsACompareAndSwap() {
        runMonitorScript(
            twoServers + """

                switchover from 2 -> view 3 s2 s1 unacked
                ping s2 3 -> view 3 s2 s1 acked
                switchover from 2 -> view 3 s2 s1 acked    # a retry is done already: no switch back
                expect view 3 s2 s1 acked
                expect saves 6                     # 1, 1 acked, 2, 2 acked, 3, 3 acked
                switchover from 1 -> refused viewChanged
                """)
    }

    func testSwitchoverRefusedWithoutAUsableBackup() {
        runMonitorScript(
            """
            switchover -> refused noPrimary
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            switchover -> refused noBackup
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            leave s2
            ping s2 2 -> view 3 s1 - unacked   # a backup that leaves is dropped at once
            ping s1 3 -> view 3 s1 - acked
            switchover -> refused noBackup
            """)
    }

    func testSwitchoverRefusedWhileTheBackupIsDeadOrRestarted() {
        runMonitorScript(
            twoServers + """

                store fail                         # while no new view can be saved, a
                ping s2 0 -> view 0 - - unacked    # restarted (empty) backup stays in the view
                switchover -> refused backupUnavailable
                store ok
                ping s2 0 -> view 3 s1 s2 unacked  # replaced (by itself, empty) once saving works
                switchover -> refused notAcknowledged
                ping s1 3 -> view 3 s1 s2 acked
                store fail                         # and so does a dead one
                tick 6 pinging s1:3
                expect view 3 s1 s2 acked
                switchover -> refused backupUnavailable
                """)
    }

    func testSwitchoverThatCannotBeSavedChangesNothing() {
        runMonitorScript(
            twoServers + """

                store fail
                switchover from 2 -> refused notSaved
                expect view 2 s1 s2 acked
                store ok
                switchover from 2 -> view 3 s2 s1 unacked
                """)
    }

    // MARK: Graceful leave

    func testLeavingPrimaryHandsOverToTheBackupAndAnIdleServerJoins() {
        runMonitorScript(
            threeServers + """

                leave s1
                ping s1 2 -> view 3 s2 s3 unacked  # s1 leaves; s3, not s1, becomes backup
                expect events leaving:s1:primary changed:3:s2:s3:primaryLeft
                ping s1 3 -> view 3 s2 s3 unacked
                ping s2 3 -> view 3 s2 s3 acked
                tick 3 pinging s1 s2 s3
                expect view 3 s2 s3 acked          # s1, idle and leaving, is given nothing
                expect servers s1:idle:alive s2:primary:alive s3:backup:alive
                """)
    }

    func testLeavingPrimaryWaitsUntilTheViewIsAcknowledged() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            drain
            leave s1
            ping s1 1 -> view 2 s1 s2 unacked  # s2 is still receiving the state
            tick 3 pinging s1:1 s2
            expect view 2 s1 s2 unacked
            ping s1 2 -> view 3 s2 - unacked   # the acknowledgement lets s1 go at once
            expect events leaving:s1:primary acked:2 changed:3:s2:-:primaryLeft
            """)
    }

    func testLeavingPrimaryWithoutBackupStaysPrimary() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            leave s1
            tick 10 pinging s1
            expect view 1 s1 - acked           # nobody holds its data: it cannot be relieved
            ping s2 0 -> view 2 s1 s2 unacked  # until an idle server becomes its backup
            ping s1 2 -> view 2 s1 s2 acked    # and has the state
            ping s2 2 -> view 3 s2 - unacked
            """)
    }

    func testLeavingBackupIsReplacedEvenBeforeTheAcknowledgement() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s3 0 -> view 2 s1 s2 unacked
            leave s2
            ping s2 2 -> view 3 s1 s3 unacked  # nobody is promoted, so no acknowledgement needed
            expect events joined:s1 changed:1:s1:-:firstPrimary acked:1 joined:s2 changed:2:s1:s2:backupAdded joined:s3 leaving:s2:backup changed:3:s1:s3:backupLeft
            """)
    }

    func testLeavingServerComesBackAsACandidateOnceItPingsWithoutLeaving() {
        runMonitorScript(
            twoServers + """

                leave s2
                ping s2 2 -> view 3 s1 - unacked
                ping s1 3 -> view 3 s1 - acked
                tick 2 pinging s1 s2
                expect view 3 s1 - acked           # still leaving: not taken back
                stay s2
                ping s2 0 -> view 4 s1 s2 unacked  # restarted: a backup again
                """)
    }

    func testBothLeavingTheBackupGoesFirstThenThePrimaryHandsOver() {
        runMonitorScript(
            threeServers + """

                leave s1
                leave s2
                ping s2 2 -> view 3 s1 s3 unacked  # s2 leaves; s3 replaces it
                ping s1 2 -> view 3 s1 s3 unacked  # s1 must wait for s3 to hold the state
                ping s1 3 -> view 3 s1 s3 acked    # and to be seen in view 3
                ping s3 3 -> view 4 s3 - unacked   # then it hands over to s3
                expect servers s1:idle:alive s2:idle:alive s3:primary:alive
                """)
    }

    func testLeavingServerDoesNotFoundACluster() {
        runMonitorScript(
            """
            leave s1
            ping s1 0 -> view 0 - - unacked    # it would exit at once, leaving view 1 orphaned
            ping s2 0 -> view 1 s2 - unacked
            expect servers s1:idle:alive s2:primary:alive
            """)
    }

    func testAfterAMonitorRestartALeavingPrimaryWaitsToSeeItsBackup() {
        runMonitorScript(
            twoServers + """

                restart monitor
                leave s1
                ping s1 2 -> view 2 s1 s2 acked    # s2's record is only restored: it may be dead
                tick 2 pinging s1
                expect view 2 s1 s2 acked
                ping s2 2 -> view 3 s2 - unacked   # now it is seen alive in view 2
                """)
    }

    func testSwitchoverRefusedWhileTheBackupHasNotBeenSeenLately() {
        runMonitorScript(
            twoServers + """

                tick 3 pinging s1:2                # s2 silent for 3 ticks: alive, but maybe dying
                switchover -> refused backupUnconfirmed
                ping s2 2 -> view 2 s1 s2 acked
                switchover -> view 3 s2 s1 unacked
                """)
    }

    func testLeavingBackupIsKeptWhileThePrimaryMayHaveJustDied() {
        runMonitorScript(
            twoServers + """

                tick 3 pinging s2:2                # s1 silent: it may have crashed
                leave s2
                ping s2 2 -> view 2 s1 s2 acked    # s2 holds the only sure copy: it stays
                tick 3 pinging s2
                expect view 3 s2 - unacked         # s1 dead: s2 promoted (it will hand over in turn)
                expect events leaving:s2:backup died:s1 changed:3:s2:-:primaryFailed
                """)
    }
}
