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
        var core = ClientCore(clientID: 7, config: config)
        XCTAssertEqual(
            core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: nil, at: 0),
            .askMonitor(attempt: 1, timeout: 1_000))
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

    func testWrongServerForgetsTheViewAndRetriesTheSameSequenceNumberAfterAPause() {
        var core = ClientCore(clientID: 7, config: config)
        _ = core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: nil, at: 0)
        _ = core.handle(.viewReceived(attempt: 1, view), at: 0)
        XCTAssertEqual(core.handle(.replyReceived(attempt: 1, .wrongServer), at: 10), .pause(100))
        XCTAssertNil(core.view)
        XCTAssertEqual(core.handle(.pauseEnded, at: 110), .askMonitor(attempt: 2, timeout: 1_000))
        var next = view
        next.primary = "b"
        XCTAssertEqual(
            core.handle(.viewReceived(attempt: 2, next), at: 120),
            .send(request(1), to: "b", attempt: 2, timeout: 1_000))
    }

    func testRetryLaterKeepsTheViewAndAFailedAttemptDropsIt() {
        var core = ClientCore(clientID: 7, config: config)
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
        var core = ClientCore(clientID: 7, config: config)
        _ = core.start(.get, key: Bytes(utf8: "k"), deadline: nil, at: 0)
        XCTAssertEqual(core.handle(.viewReceived(attempt: 1, .initial), at: 1), .pause(100))
        XCTAssertNil(core.view)
        XCTAssertEqual(core.handle(.pauseEnded, at: 101), .askMonitor(attempt: 2, timeout: 1_000))
    }

    func testTheDeadlineBoundsAttemptsAndPausesAndEndsTheOperation() {
        var core = ClientCore(clientID: 7, config: config)
        XCTAssertEqual(
            core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: 500, at: 0),
            .askMonitor(attempt: 1, timeout: 500))
        XCTAssertEqual(
            core.handle(.viewReceived(attempt: 1, view), at: 200), .send(request(1), to: "p", attempt: 1, timeout: 300))
        XCTAssertEqual(core.handle(.attemptFailed(attempt: 1, problem: "refused"), at: 450), .pause(50))
        XCTAssertEqual(core.handle(.pauseEnded, at: 500), .fail(.timedOut(lastProblem: "refused")))
        XCTAssertFalse(core.isBusy)
    }

    func testLateAndDuplicatedAnswersAreIgnored() {
        var core = ClientCore(clientID: 7, config: config)
        _ = core.start(.put, key: Bytes(utf8: "k"), value: Bytes(utf8: "v"), deadline: nil, at: 0)
        _ = core.handle(.viewReceived(attempt: 1, view), at: 0)
        _ = core.handle(.attemptFailed(attempt: 1, problem: "timed out"), at: 1_000)
        XCTAssertNil(core.handle(.replyReceived(attempt: 1, ClientReply(status: .ok)), at: 1_010))
        XCTAssertNil(core.handle(.viewReceived(attempt: 1, view), at: 1_020))
        XCTAssertEqual(core.handle(.pauseEnded, at: 1_100), .askMonitor(attempt: 2, timeout: 1_000))
        XCTAssertNil(core.handle(.pauseEnded, at: 1_101))
    }

    func testDefiniteRefusalsEndTheOperation() {
        var core = ClientCore(clientID: 7, config: config)
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
}
