import KVProtocol
import NodeDriver
import ServerCore
import XCTest

/// Which of several monitors a server pings (docs/DESIGN.md §4.3), as `ServerDriver`
/// decides it: the one that last answered; after no answer, the next; after a
/// follower's `notLeader`, the leader it names, pinged again at once, once a tick.
final class MonitorChoiceTests: XCTestCase {
    private var environment: ScriptedServerEnvironment!
    private var driver: ServerDriver<ScriptedServerEnvironment>!

    private func start(_ monitors: [String]) {
        environment = ScriptedServerEnvironment()
        driver = ServerDriver(
            configuration: .init(
                core: ServerConfig(address: "s1"), monitors: monitors, pingInterval: 100, peerTimeout: 1_000),
            environment: environment)
        driver.start()
    }

    private let view = View(viewnum: 1, primary: "s1", backup: "", acked: false)

    func testADeadMonitorThenAFollowerLeadToTheLeaderWhichItKeepsPinging() {
        start(["dead", "follower", "leader"])
        var settled = false
        driver.whenFirstPingSettled { settled = true }
        environment.tick()
        XCTAssertEqual(environment.pendingPings, ["dead"])
        environment.answerPing(nil)
        XCTAssertTrue(settled, "no answer settles the first ping: the server has tried")
        XCTAssertEqual(environment.pendingPings, [], "no answer: the next monitor waits for the next tick")

        environment.tick()
        XCTAssertEqual(environment.pendingPings, ["follower"])
        environment.answerPing(.notLeader(leader: "leader"))
        XCTAssertEqual(environment.pendingPings, ["leader"], "the named leader, at once")
        environment.answerPing(.viewReply(view))
        XCTAssertEqual(driver.core.view, view)
        XCTAssertEqual(driver.monitors.current, "leader")

        environment.tick()
        XCTAssertEqual(environment.pendingPings, ["leader"], "the monitor that answered stays the one pinged")
    }

    func testAtMostOneImmediatePingATickSoConfusedMonitorsCannotLoop() {
        start(["a", "b", "c"])
        environment.tick()
        environment.answerPing(.notLeader(leader: "b"))
        XCTAssertEqual(environment.pendingPings, ["b"])
        environment.answerPing(.notLeader(leader: "c"))
        XCTAssertEqual(environment.pendingPings, [], "a second hint in the same tick waits for the next tick")
        XCTAssertEqual(driver.monitors.current, "c", "but it is followed")
        environment.tick()
        XCTAssertEqual(environment.pendingPings, ["c"])
        // c names a, which already sent the server away in this pass: not followed back.
        environment.answerPing(.notLeader(leader: "a"))
        XCTAssertEqual(environment.pendingPings, [])
        environment.tick()
        // Every monitor has missed: a new pass, starting after c.
        XCTAssertEqual(environment.pendingPings, ["a"])
        environment.answerPing(.notLeader(leader: "b"))
        XCTAssertEqual(environment.pendingPings, ["b"], "a new tick allows one immediate ping again")
    }

    func testANotLeaderWithoutALeaderOrWithAnUnknownOneMovesOnAtTheNextTick() {
        start(["a", "b", "c"])
        environment.tick()
        environment.answerPing(.notLeader(leader: ""))
        XCTAssertEqual(environment.pendingPings, [], "no leader named: nothing to ping at once")
        environment.tick()
        XCTAssertEqual(environment.pendingPings, ["b"])
        environment.answerPing(.notLeader(leader: "elsewhere:1"))
        XCTAssertEqual(environment.pendingPings, [], "a leader outside the list is not pinged")
        environment.tick()
        XCTAssertEqual(environment.pendingPings, ["c"])
    }

    func testOnePingInFlightStillHolds() {
        start(["a", "b"])
        environment.tick()
        environment.tick()
        XCTAssertEqual(environment.pendingPings, ["a"], "the slot is taken until the answer")
        environment.answerPing(.notLeader(leader: "b"))
        XCTAssertEqual(environment.pendingPings, ["b"])
        environment.tick()
        XCTAssertEqual(environment.pendingPings, ["b"], "the immediate ping holds the slot too")
    }

    func testAnErrorAnswerCountsAsNoAnswer() {
        start(["a", "b"])
        environment.tick()
        environment.answerPing(.error(code: .unexpectedMessage, message: "not a monitor"))
        environment.tick()
        XCTAssertEqual(environment.pendingPings, ["b"])
    }

    func testASingleMonitorIsPingedEveryTickWhateverHappens() {
        start(["m"])
        for answer: Message? in [nil, .notLeader(leader: "m"), .notLeader(leader: ""), .viewReply(view)] {
            environment.tick()
            XCTAssertEqual(environment.pendingPings, ["m"])
            environment.answerPing(answer)
            XCTAssertEqual(environment.pendingPings, [], "never an immediate ping")
        }
    }

    func testALeavingServersImmediatePingStillSaysLeaving() {
        start(["a", "b"])
        environment.tick()
        var outcome: LeaveOutcome?
        driver.leave(timeout: 10_000) { outcome = $0 }
        XCTAssertEqual(environment.pendingPings, ["a"], "the leave's own ping waits for the slot")
        environment.answerPing(.notLeader(leader: "b"))
        guard case .ping(_, _, let leaving, _, _)? = environment.sent.last?.message else {
            return XCTFail("no ping to b")
        }
        XCTAssertTrue(leaving)
        let withoutIt = View(viewnum: 1, primary: "s2", backup: "", acked: false)
        environment.answerPing(.viewReply(withoutIt))
        XCTAssertEqual(outcome, .relieved(withoutIt))
    }
}
