import XCTest

/// docs/DESIGN.md §2.6: the view is saved before it is handed out, one save at a time,
/// and a restarted monitor continues from the saved view.
final class DurabilityTests: XCTestCase {
    // MARK: Saving

    func testEveryNewViewIsSavedBeforeItIsHandedOut() {
        // Besides these expectations, the interpreter checks after every step that the view
        // in force (and so every ping reply) is the last view the store saved.
        runMonitorScript(
            """
            expect stored none
            ping s1 0 -> view 1 s1 - unacked
            expect stored view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            expect stored view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            tick 5 pinging s2:2
            expect stored view 2 s1 s2 acked  # s1 is still alive
            tick 1 pinging s2:2
            expect stored view 3 s2 - unacked
            expect saved 1/unacked 1/acked 2/unacked 2/acked 3/unacked
            """)
    }

    // MARK: Saving takes time

    func testPingsWhileASaveIsInFlightAreAnsweredWithTheNewViewOnceItIsSaved() {
        runMonitorScript(
            """
            store hold
            ping s1 0 -> held                 # view 1 is being saved: not handed out yet
            expect view 0 - - unacked
            ping s2 0 -> held                 # recorded (it is alive), answered later
            expect servers s1:idle:alive s2:idle:alive
            store release
            expect view 1 s1 - unacked
            expect answer s1 view 1 s1 - unacked
            expect answer s2 view 1 s1 - unacked
            expect events joined:s1 joined:s2 changed:1:s1:-:firstPrimary
            """)
    }

    func testAHeldPingIsAnsweredAtTheNextTickWithTheViewInForce() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            store hold
            ping s1 1 -> held                 # the acknowledgement is being saved
            tick 1
            expect answer s1 view 1 s1 - unacked  # a tick later, the view in force
            ping s1 1 -> held                 # still saving: held again, no second save
            store release
            expect answer s1 view 1 s1 - acked
            expect saved 1/unacked 1/acked
            """)
    }

    func testNoOtherDecisionWhileASaveIsInFlight() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            store hold
            ping s2 0 -> held                 # view 2 adds s2 as backup; being saved
            ping s3 0 -> held
            switchover -> refused saveInProgress
            tick 6 pinging s2:0 s3:0          # s1 dies meanwhile: nothing is decided while saving
            expect view 1 s1 - acked
            expect saves 2
            store release                     # view 2 is in force; then s1's death is acted on
            expect saved 1/unacked 1/acked 2/unacked
            expect view 2 s1 s2 unacked
            """)
    }

    /// Told its old view, a restarted backup would ping with that view's number; a monitor
    /// that restarted before the replacement was saved (the restart mark is not saved)
    /// would then take it, empty, for a synchronised backup.
    func testARestartedServerLearnsNoViewUntilItsReplacementIsSaved() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            store hold
            ping s2 0 -> held                 # s2 restarted; view 3 replaces it, being saved
            tick 1                            # the save takes longer than a tick
            expect answer s2 view 0 - - unacked
            restart monitor                   # view 3 is lost, and the restart mark with it
            ping s1 2 -> view 2 s1 s2 acked   # (the primary heard first: a view changes only then)
            ping s2 0 -> held                 # s2 still pings 0: marked again, replaced again
            store release
            expect answer s2 view 3 s1 s2 unacked
            """)
    }

    func testASwitchoverIsAnsweredOnceItsViewIsSaved() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            tick 1 pinging s1:2 s2:2
            store fail
            switchover from 2 -> refused notSaved
            expect view 2 s1 s2 acked
            store ok
            switchover from 2 -> view 3 s2 s1 unacked
            """)
    }

    func testASaveInFlightWhenTheMonitorStopsIsLost() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            store hold
            ping s2 0 -> held
            restart monitor                   # view 2 never reached the disk
            expect view 1 s1 - acked
            ping s1 1 -> view 1 s1 - acked   # (the primary heard first: a view changes only then)
            ping s2 0 -> held                 # the new monitor decides afresh
            store release
            expect answer s2 view 2 s1 s2 unacked
            expect saved 1/unacked 1/acked 2/unacked
            """)
    }

    func testAcknowledgementIsSaved() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            expect stored view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            expect stored view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            drain
            store fail
            ping s1 2 -> view 2 s1 s2 unacked # the acknowledgement cannot be saved: not taken
            expect events persistFailed:2:s1:s2:acked
            restart monitor                   # so a restarted monitor still waits for it
            expect view 2 s1 s2 unacked
            store ok
            ping s1 2 -> view 2 s1 s2 acked
            expect stored view 2 s1 s2 acked
            expect events acked:2
            restart monitor
            expect view 2 s1 s2 acked
            expect saved 1/unacked 1/acked 2/unacked 2/acked
            """)
    }

    func testWhenSavingFailsTheViewDoesNotChangeUntilSavingWorksAgain() {
        runMonitorScript(
            """
            store fail
            ping s1 0 -> view 0 - - unacked   # not even view 1 is handed out unsaved
            expect events joined:s1 persistFailed:1:s1:-:unacked
            expect saves 0
            store ok
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            store fail
            tick 5 pinging s2:2
            expect events none                # s1 is still alive: nothing to save yet
            tick 1 pinging s2:2               # s1 dies; view 3 cannot be saved
            expect view 2 s1 s2 acked
            expect events died:s1 persistFailed:3:s2:-:unacked
            tick 2                            # every attempt fails the same way
            expect view 2 s1 s2 acked
            expect events persistFailed:3:s2:-:unacked persistFailed:3:s2:-:unacked
            expect saves 4
            store ok
            tick 1 pinging s2:2
            expect view 3 s2 - unacked
            expect stored view 3 s2 - unacked
            expect events changed:3:s2:-:primaryFailed
            """)
    }

    func testRestartedPrimaryIsReplacedOnceSavingWorksAgain() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            store fail
            ping s1 0 -> view 0 - - unacked   # s1 restarted, but view 3 cannot be saved: no view for it
            expect events restarted:s1:primary persistFailed:3:s2:s1:unacked
            tick 3 pinging s1:0 s2:2          # so it keeps pinging 0
            expect view 2 s1 s2 acked
            drain
            store ok
            tick 1 pinging s1:0 s2:2
            expect view 3 s2 s1 unacked       # the restart was not forgotten
            expect events changed:3:s2:s1:primaryFailed
            """)
    }

    func testRestartedBackupIsReplacedOnceSavingWorksAgain() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            drain
            store fail
            ping s2 0 -> view 0 - - unacked   # s2 restarted, but view 3 cannot be saved: no view for it
            expect events restarted:s2:backup persistFailed:3:s1:s2:unacked
            restart monitor                   # the restart mark is not saved, so it is lost,
            ping s2 0 -> view 0 - - unacked   # but s2 still pings 0, and is marked again
            tick 3 pinging s1:2 s2:0
            expect view 2 s1 s2 acked
            drain
            store ok
            ping s2 0 -> view 3 s1 s2 unacked # replaced (by itself, fresh) after all
            expect events changed:3:s1:s2:backupFailed
            store fail                        # again, before s1 acknowledged view 3
            ping s2 0 -> view 0 - - unacked
            drain
            store ok
            tick 1 pinging s2:0 s1:2
            expect view 4 s1 s2 unacked
            expect events changed:4:s1:s2:backupFailed
            """)
    }

    // MARK: Restarting the monitor

    func testRestartedMonitorKeepsItsView() {
        runMonitorScript(
            """
            restart monitor                   # nothing saved yet: starts from scratch
            expect view 0 - - unacked
            ping s1 0 -> view 1 s1 - unacked
            restart monitor
            expect view 1 s1 - unacked        # still waiting for the acknowledgement
            ping s2 0 -> view 1 s1 - unacked
            ping s1 1 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            tick 7 pinging s1:2 s2:2
            restart monitor
            expect view 2 s1 s2 acked
            ping s3 0 -> view 2 s1 s2 acked   # a fresh server gets no fresh view 1
            tick 6 pinging s2:2 s3:2          # s1 is gone; view numbers continue
            expect view 3 s2 s3 unacked
            expect saved 1/unacked 1/acked 2/unacked 2/acked 3/unacked
            """)
    }

    func testRestartedMonitorGivesKnownServersAFullGracePeriod() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            tick 5 pinging s1:2               # s2 has gone deadPings ticks without a ping: one more and it is dead
            restart monitor
            expect servers s1:primary:alive:age=0:vn=2 s2:backup:alive:age=0:vn=2
            tick 5 pinging s1:2               # s2 gets deadPings ticks again, counted from the restart
            expect view 2 s1 s2 acked
            expect servers s1:primary:alive s2:backup:alive
            tick 1 pinging s1:2
            expect view 3 s1 - unacked
            ping s1 3 -> view 3 s1 - acked
            restart monitor                   # and the primary gets the same
            tick 5
            expect servers s1:primary:alive:age=500:vn=3
            tick 1
            expect servers s1:primary:dead:age=600:vn=3
            """)
    }
}
