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
            switchover -> view 3 s2 s1 unacked
            """)
    }

    func testSwitchoverIsACompareAndSwap() {
        runMonitorScript(
            twoServers + """

                switchover from 2 -> view 3 s2 s1 unacked
                ping s2 3 -> view 3 s2 s1 acked
                switchover from 2 -> refused viewChanged  # a retried request must not switch back
                expect view 3 s2 s1 acked
                expect saves 6                     # 1, 1 acked, 2, 2 acked, 3, 3 acked
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

                ping s2 0 -> view 3 s1 s2 unacked  # s2 restarted: it holds nothing
                switchover -> refused notAcknowledged
                ping s1 3 -> view 3 s1 s2 acked
                store fail                         # a dead backup stays in the view only
                tick 6 pinging s1:3                # while its replacement cannot be saved
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
            ping s1 2 -> view 3 s2 - unacked   # and has the state
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
                ping s1 3 -> view 4 s3 - unacked   # and then hands over to s3
                expect servers s1:idle:alive s2:idle:alive s3:primary:alive
                """)
    }
}
