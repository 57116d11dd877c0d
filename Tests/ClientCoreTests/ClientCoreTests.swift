import ClientCore
import KVProtocol
import XCTest

/// The client's rules (docs/DESIGN.md §4.1), one by one: the view is fetched only when needed, a
/// retry keeps its sequence number, attempts are paced and bounded by the deadline, and
/// late answers are ignored.
final class ClientCoreTests: XCTestCase {
    private let config = ClientConfig(retryInterval: 100, attemptTimeout: 1_000, minimumAttemptTimeout: 1)
    private let view = View(viewnum: 3, primary: "p", backup: "b", acked: true)

    private func request(_ seq: UInt64, _ op: KVProtocol.Operation = .put, value: String = "v") -> ClientRequest {
        ClientRequest(op: op, clientID: 7, seq: seq, key: Bytes(utf8: "k"), value: Bytes(utf8: value))
    }

    func testFirstOperationAsksTheMonitorThenTheViewIsCached() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        XCTAssertEqual(
            core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: nil, at: 0),
            .askMonitor("m", attempt: 1, timeout: 1_000))
        XCTAssertEqual(
            core.handle(.viewReceived(attempt: 1, view), at: 5), .send(request(1), to: "p", attempt: 1, timeout: 1_000))
        XCTAssertEqual(
            core.handle(.replyReceived(attempt: 1, ClientReply(status: .ok)), at: 9), .complete(.init(status: .ok)))
        XCTAssertFalse(core.isBusy)
        // The second operation goes straight to the cached primary.
        XCTAssertEqual(
            core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "w"), deadline: nil, at: 10),
            .send(request(2, value: "w"), to: "p", attempt: 2, timeout: 1_000))
    }

    func testATransactionTakesTheNextSequenceNumberAndKeepsItAcrossRetries() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        _ = core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: nil, at: 0)
        _ = core.handle(.viewReceived(attempt: 1, view), at: 5)
        _ = core.handle(.replyReceived(attempt: 1, ClientReply(status: .ok)), at: 9)
        let txn = Txn(compares: [.absent(Bytes(utf8: "k"))], success: [.get(Bytes(utf8: "k"))])
        let sent = ClientRequest(txn: txn, clientID: 7, seq: 2)
        XCTAssertEqual(core.start(txn, deadline: nil, at: 10), .send(sent, to: "p", attempt: 2, timeout: 1_000))
        XCTAssertEqual(core.handle(.replyReceived(attempt: 2, .retryLater), at: 20), .pause(100))
        XCTAssertEqual(core.handle(.pauseEnded, at: 120), .send(sent, to: "p", attempt: 3, timeout: 1_000))
        XCTAssertEqual(core.seq, 2)
    }

    func testWrongServerForgetsTheViewAndRetriesTheSameSequenceNumberAfterAPause() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        _ = core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: nil, at: 0)
        _ = core.handle(.viewReceived(attempt: 1, view), at: 0)
        XCTAssertEqual(core.handle(.replyReceived(attempt: 1, .wrongServer), at: 10), .pause(100))
        XCTAssertNil(core.view)
        XCTAssertEqual(core.handle(.pauseEnded, at: 110), .askMonitor("m", attempt: 2, timeout: 1_000))
        var next = view
        next.primary = "b"
        XCTAssertEqual(
            core.handle(.viewReceived(attempt: 2, next), at: 120),
            .send(request(1), to: "b", attempt: 2, timeout: 1_000))
    }

    func testATransactionIsRetriedUnderItsSequenceNumberAndAnsweredWithItsOutcome() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        let txn = Txn(compares: [.absent(Bytes(utf8: "k"))], success: [.add(Bytes(utf8: "k"), 1)])
        let sent = ClientRequest(txn: txn, clientID: 7, seq: 1)
        XCTAssertEqual(core.start(txn, deadline: nil, at: 0), .askMonitor("m", attempt: 1, timeout: 1_000))
        XCTAssertEqual(
            core.handle(.viewReceived(attempt: 1, view), at: 0), .send(sent, to: "p", attempt: 1, timeout: 1_000))
        XCTAssertEqual(core.handle(.attemptFailed(attempt: 1, problem: "lost"), at: 10), .pause(100))
        _ = core.handle(.pauseEnded, at: 110)
        XCTAssertEqual(
            core.handle(.viewReceived(attempt: 2, view), at: 110), .send(sent, to: "p", attempt: 2, timeout: 1_000))
        let answer = ClientReply(outcome: TxnOutcome(succeeded: true, results: [.integer(1)], revision: 5, now: 9))
        XCTAssertEqual(core.handle(.replyReceived(attempt: 2, answer), at: 120), .complete(answer))
        XCTAssertEqual(
            core.start(.get, key: Bytes(utf8: "k"), deadline: nil, at: 130),
            .send(request(2, .get, value: ""), to: "p", attempt: 3, timeout: 1_000))
    }

    func testRetryLaterKeepsTheViewAndAFailedAttemptDropsIt() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        _ = core.start(.get, key: Bytes(utf8: "k"), deadline: nil, at: 0)
        _ = core.handle(.viewReceived(attempt: 1, view), at: 0)
        XCTAssertEqual(core.handle(.replyReceived(attempt: 1, .retryLater), at: 10), .pause(100))
        XCTAssertEqual(core.view, view)
        XCTAssertEqual(
            core.handle(.pauseEnded, at: 110),
            .send(request(1, .get, value: ""), to: "p", attempt: 2, timeout: 1_000))
        XCTAssertEqual(core.handle(.attemptFailed(attempt: 2, problem: "timed out"), at: 1_110), .pause(100))
        XCTAssertNil(core.view)
    }

    func testAMonitorWithoutPrimaryIsAskedAgainAfterAPause() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        _ = core.start(.get, key: Bytes(utf8: "k"), deadline: nil, at: 0)
        XCTAssertEqual(core.handle(.viewReceived(attempt: 1, .initial), at: 1), .pause(100))
        XCTAssertNil(core.view)
        XCTAssertEqual(core.handle(.pauseEnded, at: 101), .askMonitor("m", attempt: 2, timeout: 1_000))
    }

    func testTheDeadlineBoundsAttemptsAndPausesAndEndsTheOperation() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        XCTAssertEqual(
            core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: 500, at: 0),
            .askMonitor("m", attempt: 1, timeout: 500))
        XCTAssertEqual(
            core.handle(.viewReceived(attempt: 1, view), at: 200), .send(request(1), to: "p", attempt: 1, timeout: 300))
        XCTAssertEqual(core.handle(.attemptFailed(attempt: 1, problem: "refused"), at: 450), .pause(50))
        XCTAssertEqual(core.handle(.pauseEnded, at: 500), .fail(.timedOut(lastProblem: "refused")))
        XCTAssertFalse(core.isBusy)
    }

    func testLateAndDuplicatedAnswersAreIgnored() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        _ = core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: nil, at: 0)
        _ = core.handle(.viewReceived(attempt: 1, view), at: 0)
        _ = core.handle(.attemptFailed(attempt: 1, problem: "timed out"), at: 1_000)
        XCTAssertNil(core.handle(.replyReceived(attempt: 1, ClientReply(status: .ok)), at: 1_010))
        XCTAssertNil(core.handle(.viewReceived(attempt: 1, view), at: 1_020))
        XCTAssertEqual(core.handle(.pauseEnded, at: 1_100), .askMonitor("m", attempt: 2, timeout: 1_000))
        XCTAssertNil(core.handle(.pauseEnded, at: 1_101))
    }

    func testDefiniteRefusalsEndTheOperation() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        _ = core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: nil, at: 0)
        _ = core.handle(.viewReceived(attempt: 1, view), at: 0)
        XCTAssertEqual(
            core.handle(
                .replyReceived(attempt: 1, ClientReply(status: .invalid, value: Bytes(utf8: "too big"))), at: 1),
            .fail(.invalid("too big")))
        _ = core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: nil, at: 2)
        XCTAssertEqual(
            core.handle(.replyReceived(attempt: 2, ClientReply(status: .staleRequest)), at: 3), .fail(.staleRequest))
    }

    // MARK: - Several monitors (docs/DESIGN.md §4.3)

    private func start(_ core: inout ClientCore, deadline: UInt64? = nil) -> ClientEffect {
        core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: deadline, at: 0)
    }

    func testADeadMonitorCostsNoPauseTheNextIsAskedAtOnce() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["dead", "m2", "m3"])
        XCTAssertEqual(start(&core), .askMonitor("dead", attempt: 1, timeout: 1_000))
        XCTAssertEqual(
            core.handle(.attemptFailed(attempt: 1, problem: "connection refused"), at: 1),
            .askMonitor("m2", attempt: 2, timeout: 1_000))
        XCTAssertEqual(
            core.handle(.viewReceived(attempt: 2, view), at: 2), .send(request(1), to: "p", attempt: 2, timeout: 1_000))
        // The one that answered stays the one asked.
        XCTAssertEqual(core.monitors.current, "m2")
    }

    func testAFollowersHintIsFollowedAndAnEmptyOneMovesOn() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m1", "m2", "m3"])
        _ = start(&core)
        XCTAssertEqual(
            core.handle(.notLeader(attempt: 1, leader: "m3"), at: 1), .askMonitor("m3", attempt: 2, timeout: 1_000))
        XCTAssertEqual(
            core.handle(.notLeader(attempt: 2, leader: ""), at: 2), .askMonitor("m2", attempt: 3, timeout: 1_000),
            "no leader known: the next monitor not tried yet in this pass")
        XCTAssertEqual(
            core.handle(.notLeader(attempt: 3, leader: "m9"), at: 3), .pause(100),
            "a leader outside the list counts as none; every monitor has missed: a pause")
        XCTAssertEqual(core.handle(.pauseEnded, at: 103), .askMonitor("m3", attempt: 4, timeout: 1_000))
    }

    func testThePausesComeOnlyOnceEveryMonitorMissedInARow() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m1", "m2"])
        _ = start(&core)
        XCTAssertEqual(
            core.handle(.attemptFailed(attempt: 1, problem: "refused"), at: 1),
            .askMonitor("m2", attempt: 2, timeout: 1_000))
        // m2 names m1, already tried in this pass: no loop, the pass is over.
        XCTAssertEqual(core.handle(.notLeader(attempt: 2, leader: "m1"), at: 2), .pause(100))
        XCTAssertNil(core.view)
        XCTAssertEqual(core.handle(.pauseEnded, at: 102), .askMonitor("m1", attempt: 3, timeout: 1_000))
        XCTAssertEqual(
            core.handle(.attemptFailed(attempt: 3, problem: "refused"), at: 103),
            .askMonitor("m2", attempt: 4, timeout: 1_000))
        XCTAssertEqual(core.handle(.attemptFailed(attempt: 4, problem: "timed out"), at: 1_103), .pause(100))
        XCTAssertEqual(core.handle(.pauseEnded, at: 1_203), .askMonitor("m1", attempt: 5, timeout: 1_000))
    }

    func testMonitorMissesAreBoundedByTheDeadlineAndNamedInTheLastProblem() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m1", "m2", "m3"])
        XCTAssertEqual(start(&core, deadline: 500), .askMonitor("m1", attempt: 1, timeout: 500))
        XCTAssertEqual(
            core.handle(.attemptFailed(attempt: 1, problem: "timed out"), at: 480),
            .askMonitor("m2", attempt: 2, timeout: 20))
        XCTAssertEqual(
            core.handle(.notLeader(attempt: 2, leader: ""), at: 500),
            .fail(.timedOut(lastProblem: "monitor m2 is not the leader and knows none")))
    }

    func testASingleMonitorPausesAfterEachMiss() {
        var core = ClientCore(clientID: 7, config: config, monitors: ["m"])
        _ = start(&core)
        XCTAssertEqual(core.handle(.notLeader(attempt: 1, leader: "m"), at: 1), .pause(100))
        XCTAssertEqual(core.handle(.pauseEnded, at: 101), .askMonitor("m", attempt: 2, timeout: 1_000))
        XCTAssertEqual(core.handle(.attemptFailed(attempt: 2, problem: "refused"), at: 102), .pause(100))
    }
}
