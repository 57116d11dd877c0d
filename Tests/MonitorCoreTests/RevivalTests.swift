import XCTest

/// docs/DESIGN.md §3.12: when the view's primary is down or restarted and its backup
/// cannot be promoted, a restarted member whose data directory proves it holds every
/// acknowledged update is made primary of the next view; otherwise the monitor waits,
/// saying for whom. And a backup whose answer was lost, pinging 0 again from the same
/// process, is not taken for a restart.
final class RevivalTests: XCTestCase {
    /// View 2: s1 primary, s2 backup, acknowledged; both carry incarnations.
    private let pair = """
        incarnation s1 11
        incarnation s2 21
        ping s1 0 -> view 1 s1 - unacked
        ping s1 1 -> view 1 s1 - acked
        ping s2 0 -> view 2 s1 s2 unacked
        ping s1 2 -> view 2 s1 s2 acked
        drain

        """

    /// Three servers with incarnations: view 2 acknowledged (s1 primary, s2 backup, both
    /// pinging it), s3 idle.
    private let trio = """
        incarnation s1 11
        incarnation s2 21
        incarnation s3 31
        ping s1 0 -> view 1 s1 - unacked
        ping s1 1 -> view 1 s1 - acked
        ping s2 0 -> view 2 s1 s2 unacked
        ping s1 2 -> view 2 s1 s2 acked
        ping s3 0 -> view 2 s1 s2 acked
        ping s2 2 -> view 2 s1 s2 acked

        """

    func testBothDownThenThePrimaryRestartsWithItsClaimAndIsRevived() {
        runMonitorScript(
            pair + """
                tick 6                            # both stop pinging: dead, and nobody can be promoted
                expect view 2 s1 s2 acked
                expect events died:s1 died:s2 waiting:2
                tick 3
                expect events none                # said once, not every tick
                incarnation s1 12
                claim s1 primary 2 s1 s2
                ping s1 0 -> view 3 s1 - unacked  # revived; s2 is still down: no backup
                expect events restarted:s1:primary changed:3:s1:-:revived
                ping s1 3 -> view 3 s1 - acked
                incarnation s2 22
                claim s2 backup 2 s1 s2
                ping s2 0 -> view 4 s1 s2 unacked # the backup comes back as a fresh backup
                """)
    }

    /// Everything stops and starts again (a reboot): the leaving primary's backup was
    /// promoted into view 3, never acknowledged, and its backup pings first after the
    /// restart. The view stays as it is until its primary is heard: replacing the
    /// restarted backup by itself in view 4 would leave the primary's claim (backup of
    /// view 2) two views behind, and nobody revivable, for ever.
    func testAfterARebootTheBackupPingingFirstDoesNotCostThePrimaryItsRevival() {
        runMonitorScript(
            trio + """
                leave s1
                ping s1 2 -> view 3 s2 s3 unacked # the leaving primary's backup promoted
                restart monitor                   # then every process stops and starts again
                expect view 3 s2 s3 unacked
                drain
                incarnation s3 32
                ping s3 0 -> view 0 - - unacked   # restarted, but s2 has not been heard: nothing changes
                tick 1 pinging s3:0
                expect view 3 s2 s3 unacked
                incarnation s2 22
                claim s2 backup 2 s1 s2
                ping s2 0 -> view 4 s2 s3 unacked # revived: it held the whole state of view 2
                expect events restarted:s3:backup restarted:s2:primary changed:4:s2:s3:revived
                ping s2 4 -> view 4 s2 s3 acked
                ping s3 4 -> view 4 s2 s3 acked
                """)
    }

    /// Everything restarts; the primary comes back first, its backup never does (its host
    /// is gone). The monitor waits to hear from the backup before promoting it: promoted
    /// unheard, it would have made the primary, which holds everything, the backup of an
    /// unacknowledged view, which is never revived, and the service would have waited for
    /// the dead host for ever.
    func testAfterARebootAnUnheardBackupIsNotPromotedOverTheRestartedPrimary() {
        runMonitorScript(
            pair + """
                restart monitor                   # every process stops and starts again
                incarnation s1 12
                claim s1 primary 2 s1 s2
                ping s1 0 -> view 0 - - unacked   # restarted; s2 has not been heard: nothing changes
                expect view 2 s1 s2 acked
                tick 5 pinging s1:0
                expect view 2 s1 s2 acked
                tick 1 pinging s1:0               # s2 found dead: s1 is revived with its claim
                expect view 3 s1 - unacked
                ping s1 3 -> view 3 s1 - acked
                """)
    }

    func testThePrimaryIsPreferredAndTheOtherMemberBecomesItsBackup() {
        runMonitorScript(
            pair + """
                tick 6
                expect events died:s1 died:s2 waiting:2
                store fail                        # keeps both revivable at once
                incarnation s2 22
                claim s2 backup 2 s1 s2
                ping s2 0 -> view 0 - - unacked   # s2 alone would be revived: the save fails
                incarnation s1 12
                claim s1 primary 2 s1 s2
                ping s1 0 -> view 0 - - unacked
                expect events restarted:s2:backup persistFailed:3:s2:-:unacked restarted:s1:primary persistFailed:3:s1:s2:unacked
                store ok
                tick 1
                expect view 3 s1 s2 unacked       # the primary, with the other member as backup
                """)
    }

    func testTheBackupOfTheAcknowledgedViewIsRevivedWhenThePrimaryStaysDown() {
        runMonitorScript(
            pair + """
                tick 6
                drain
                incarnation s2 22
                claim s2 backup 2 s1 s2
                ping s2 0 -> view 3 s2 - unacked
                expect events restarted:s2:backup changed:3:s2:-:revived
                """)
    }

    func testTheBackupOfAnUnacknowledgedViewIsNeverRevived() {
        runMonitorScript(
            """
            incarnation s1 11
            incarnation s2 21
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked # s1 never acknowledges view 2
            tick 6 pinging s2:2
            expect view 2 s1 s2 unacked
            drain
            incarnation s2 22
            claim s2 backup 2 s1 s2           # even claiming the view: its transfer may not be acknowledged
            ping s2 0 -> view 0 - - unacked
            tick 3 pinging s2:0
            expect view 2 s1 s2 unacked
            expect events restarted:s2:backup waiting:2
            """)
    }

    /// Case 3 revives the backup of an unacknowledged view from its claim of the view
    /// before, never of an older one: a server made backup while it still held the state
    /// of an earlier view has missed what was acknowledged since (the simulator's seed 86
    /// revived such a server into view 7 from its claim of view 2).
    func testTheBackupOfAnUnacknowledgedViewClaimingAnOlderViewIsNotRevived() {
        runMonitorScript(
            trio + """
                tick 6 pinging s1:2 s3:2          # s2 dies, holding view 2 as its backup
                expect view 3 s1 s3 unacked
                ping s1 3 -> view 3 s1 s3 acked
                drain
                incarnation s2 22
                claim s2 backup 2 s1 s2
                ping s2 0 -> view 3 s1 s3 acked   # back, idle, with its claim of view 2
                tick 6 pinging s1:3 s2:0          # s3 dies: s2 becomes the backup of view 4
                expect view 4 s1 s2 unacked
                drain
                tick 6 pinging s2:4               # s1 dies before acknowledging view 4
                expect events died:s1 waiting:4
                incarnation s2 23
                ping s2 0 -> view 0 - - unacked   # still claiming view 2, two views before
                tick 3 pinging s2:0
                expect view 4 s1 s2 unacked
                expect events restarted:s2:backup  # the reason to wait is unchanged
                """)
    }

    func testAClaimOfAnOlderViewOrAnotherServerRevivesNobody() {
        runMonitorScript(
            pair + """
                ping s3 0 -> view 2 s1 s2 acked
                tick 6 pinging s2:2 s3:0          # s1 dies: view 3, s2 primary, s3 backup
                expect view 3 s2 s3 unacked
                ping s2 3 -> view 3 s2 s3 acked
                tick 1 pinging s2:3 s3:3
                drain
                tick 6                            # both members die
                expect events died:s2 died:s3 waiting:3
                incarnation s3 32
                claim s3 backup 1 s1 s3           # older than the view before
                incarnation s2 22
                claim s2 primary 3 s9 s3          # not its own claim
                tick 3 pinging s3:0 s2:0
                expect view 3 s2 s3 acked
                expect events restarted:s3:backup waiting:3 restarted:s2:primary waiting:3
                """)
    }

    func testThePrimaryOfTheViewMayClaimThePreviousView() {
        // s2 was promoted in view 3, but restarted before it took view 3 up: its data
        // directory holds view 2's state as its synchronised backup, and nothing was
        // acknowledged in view 3 (a reply waits for the view's claim to be on disk).
        runMonitorScript(
            pair + """
                tick 6 pinging s2:2
                expect view 3 s2 - unacked
                drain
                tick 6
                expect events died:s2 waiting:3
                incarnation s2 22
                claim s2 backup 2 s1 s2
                ping s2 0 -> view 4 s2 - unacked
                expect events restarted:s2:primary changed:4:s2:-:revived
                """)
    }

    func testAPrimaryRestartedBeforeItsBackupsDeathShowsIsRevivedAsTheNextViewsBackup() {
        // Both die; the primary restarts at once, while the backup still counts as alive:
        // the backup is promoted (view 3, with the restarted primary as its backup), but it
        // is dead and never takes view 3 up. s1 still claims view 2: it never received
        // view 3's transfer, so nothing was acknowledged in view 3, and it holds
        // everything acknowledged before.
        runMonitorScript(
            pair + """
                incarnation s1 12
                claim s1 primary 2 s1 s2
                ping s1 0 -> view 3 s2 s1 unacked
                expect events restarted:s1:primary changed:3:s2:s1:primaryFailed
                tick 6 pinging s1:0
                expect view 4 s1 - unacked
                expect events died:s2 changed:4:s1:-:revived
                """)
    }

    func testARevivedPrimaryThatNeverTookItsViewUpIsRevivedAgain() {
        // As above, s2 is revived into view 4 from its claim of view 2; the monitor restarts
        // before s2 learns view 4. s2 (the same process) pings 0 with the same claim, now
        // two views behind: it was the primary of views 3 and 4 and took neither up (it
        // would have logged their claims), so nothing was acknowledged since view 2.
        // Waiting for a claim of view 3 or 4 would wait for ever.
        runMonitorScript(
            pair + """
                tick 6 pinging s2:2
                expect view 3 s2 - unacked
                drain
                tick 6
                incarnation s2 22
                claim s2 backup 2 s1 s2
                ping s2 0 -> view 4 s2 - unacked
                drain
                restart monitor
                ping s2 0 -> view 5 s2 - unacked
                expect events restarted:s2:primary changed:5:s2:-:revived
                """)
    }

    func testARestartWithoutAClaimWaitsAndSaysWhy() {
        runMonitorScript(
            pair + """
                tick 6
                drain
                incarnation s1 12
                ping s1 0 -> view 0 - - unacked  # memory only: nothing to vouch for
                tick 2 pinging s1:0
                expect view 2 s1 s2 acked
                expect events restarted:s1:primary waiting:2
                """)
    }

    func testABackupWhoseAnswerWasLostIsNotTakenForARestart() {
        runMonitorScript(
            """
            incarnation s1 11
            incarnation s2 21
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked # the answer is lost: s2 pings 0 again
            ping s2 0 -> view 2 s1 s2 unacked
            ping s2 0 -> view 2 s1 s2 unacked
            expect events joined:s1 changed:1:s1:-:firstPrimary acked:1 joined:s2 changed:2:s1:s2:backupAdded
            incarnation s2 22                 # a real restart still is one: s2 is replaced, by
            ping s2 0 -> view 3 s1 s2 unacked # itself as a fresh backup (no other idle server)
            expect events restarted:s2:backup changed:3:s1:s2:backupFailed
            """)
    }

    /// The primary of an unacknowledged view that is alive may be transferring the state
    /// to its new backup: the service is not down, and an operator's revive would discard
    /// its data for nothing. Once it is dead, the revive is the way out again.
    func testAnOperatorsReviveIsRefusedWhileTheUnacknowledgedViewsPrimaryIsAlive() {
        runMonitorScript(
            """
            incarnation s1 11
            incarnation s2 21
            incarnation s3 31
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked # a long transfer begins
            ping s3 0 -> view 2 s1 s2 unacked
            tick 3 pinging s1:1 s2:2 s3:0
            drain
            revive s3 -> refused primary s1 of view 2 is alive
            revive s1 -> refused primary s1 of view 2 is alive
            expect view 2 s1 s2 unacked
            expect events reviveRefused:s3 reviveRefused:s1
            tick 6 pinging s2:2 s3:0          # s1 dies: its backup cannot be promoted
            expect events died:s1 waiting:2
            revive s3 -> view 3 s3 s2 unacked
            expect events changed:3:s3:s2:operatorRevival
            """)
    }

    /// A primary of an unacknowledged view that pings 0 from the process the monitor knows
    /// transfers nothing (it has no view, or refuses it): an operator's revive goes ahead.
    func testAnOperatorsReviveIsTakenWhileTheUnacknowledgedViewsPrimaryPingsZero() {
        runMonitorScript(
            """
            incarnation s1 11
            incarnation s2 21
            incarnation s3 31
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s3 0 -> view 2 s1 s2 unacked
            tick 3 pinging s1:0 s2:2 s3:0     # s1 refuses view 2 (say, a claim of another cluster)
            drain
            revive s3 -> view 3 s3 s1 unacked # the other member, alive, its backup
            expect events changed:3:s3:s1:operatorRevival
            """)
    }

    /// A ping 0 from the primary's own process, sent before it learned its view and
    /// delivered late, is not a restart: with the incarnation known, only a new one is.
    func testALatePing0FromTheSameProcessIsNotARestartOfThePrimary() {
        runMonitorScript(
            pair + """
                ping s1 0 -> view 2 s1 s2 acked   # the same incarnation: no view change
                tick 2 pinging s1:2 s2:2
                expect view 2 s1 s2 acked
                expect events none
                incarnation s1 12                 # a new process is a restart: s2 takes over
                ping s1 0 -> view 3 s2 s1 unacked # replaced by its backup, and is its new backup
                expect events restarted:s1:primary changed:3:s2:s1:primaryFailed
                """)
    }

    /// Servers that send no incarnation (older versions) keep the rule without it: once
    /// the view is acknowledged, a 0 from its primary is a restart.
    func testWithoutIncarnationsAPing0FromTheAcknowledgedPrimaryIsARestart() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            ping s1 0 -> view 3 s2 s1 unacked
            expect events restarted:s1:primary changed:3:s2:s1:primaryFailed
            """)
    }

    /// Issue 17: a switchover to a backup that crashed a moment before left a view never
    /// acknowledged and the service down for good, although the old primary held every
    /// write. The old primary, made backup of the new view, keeps claiming the primary
    /// role of the view before until a transfer reaches it, and is revived from it (case 3).
    func testASwitchoverToABackupThatCrashedIsUndoneByTheOldPrimarysClaim() {
        for backupStaysDown in [false, true] {
            runMonitorScript(
                trio + """
                    switchover from 2 -> view 3 s2 s1 unacked   # s2 crashed a moment ago
                    claim s1 primary 2 s1 s2                    # s1, backup of view 3, holds view 2's state
                    drain

                    """
                    + (backupStaysDown
                        ? """
                        tick 6 pinging s1:3 s3:0
                        expect view 4 s1 s3 unacked                # revived; an idle server its backup
                        """
                        : """
                        incarnation s2 22
                        ping s2 0 -> view 0 - - unacked            # restarted empty
                        tick pinging s1:3 s2:0 s3:0
                        expect view 4 s1 s2 unacked                # revived; s2 its fresh backup
                        """))
        }
    }
}
