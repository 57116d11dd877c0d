import KVProtocol
import NodeDriver
import ServerCore
import XCTest

/// How a graceful leave ends when no monitor can relieve the server (docs/DESIGN.md
/// §3.10): a monitor that nothing listens for (connection refused) ends the wait after
/// one attempt, since none can hand the role over; one that may be there but does not
/// answer in time is waited for, up to the leave's timeout.
final class LeaveTests: XCTestCase {
    private var environment: ScriptedServerEnvironment!
    private var driver: ServerDriver<ScriptedServerEnvironment>!
    private var outcome: LeaveOutcome?

    private let backupView = View(viewnum: 2, primary: "s2", backup: "s1", acked: false)

    /// s1 started, pinging `monitors`, and given `view` by the first one.
    private func start(_ monitors: [String], in view: View) {
        environment = ScriptedServerEnvironment()
        driver = ServerDriver(
            configuration: .init(
                core: ServerConfig(address: "s1"), monitors: monitors, pingInterval: 100, peerTimeout: 1_000),
            environment: environment)
        driver.start()
        environment.tick()
        environment.answerPing(.viewReply(view))
        XCTAssertEqual(driver.core.view, view)
    }

    private func leave() {
        driver.leave(timeout: 10_000) { self.outcome = $0 }
        XCTAssertEqual(environment.pendingPings.count, 1, "the leave's ping goes out at once")
    }

    func testAMonitorNobodyListensForEndsTheLeaveAfterOneAttempt() {
        start(["m"], in: backupView)
        leave()
        environment.failPing(.unreachable("connection refused"))
        XCTAssertEqual(outcome, .monitorUnreachable(backupView, reason: "m: connection refused"))
    }

    func testAMonitorThatDoesNotAnswerInTimeIsWaitedFor() {
        start(["m"], in: backupView)
        leave()
        environment.failPing(.noAnswer("timed out"))
        XCTAssertNil(outcome, "a busy monitor may still relieve the server")
        environment.tick()
        environment.failPing(.noAnswer("connection reset"))
        XCTAssertNil(outcome, "a lost connection says nothing of whether the monitor is there")
        environment.tick()
        environment.failPing(.unreachable("connection refused"))
        XCTAssertNotNil(outcome, "the monitor stopped: nobody can relieve the server")
    }

    func testEveryMonitorMustBeUnreachableInARow() {
        start(["a", "b"], in: backupView)
        leave()
        XCTAssertEqual(environment.failPing(.unreachable("connection refused")), "a")
        XCTAssertNil(outcome, "b may still relieve the server")
        environment.tick()
        XCTAssertEqual(environment.answerPing(.viewReply(backupView)), "b")
        XCTAssertNil(outcome)
        environment.tick()
        XCTAssertEqual(environment.failPing(.unreachable("connection refused")), "b")
        XCTAssertNil(outcome, "a was unreachable before b answered: it may be back")
        environment.tick()
        XCTAssertEqual(environment.failPing(.unreachable("connection refused")), "a")
        XCTAssertEqual(outcome, .monitorUnreachable(backupView, reason: "a: connection refused"))
    }

    /// Without a data directory, a primary without a synchronised backup holds the only
    /// copy: leaving would lose it, and a monitor coming back within the timeout could
    /// still hand it over; so it waits.
    func testAPrimaryHoldingTheOnlyCopyInMemoryWaitsForTheMonitor() {
        let first = View(viewnum: 1, primary: "s1", backup: "", acked: false)
        start(["m"], in: first)
        environment.tick()
        var acked = first
        acked.acked = true
        environment.answerPing(.viewReply(acked))
        XCTAssertTrue(driver.core.isServing)
        leave()
        environment.failPing(.unreachable("connection refused"))
        XCTAssertNil(outcome, "left with the only copy of the data")
    }
}
