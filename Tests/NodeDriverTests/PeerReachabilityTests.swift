import XCTest

@testable import NodeDriver

/// When a server says its monitor or backup is unreachable (issue 17): after a failure and
/// `threshold` without an answer, once, then at most every `remindEvery`, and that it is
/// back at the next answer.
final class PeerReachabilityTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    func testTroubleNeedsAFailureAndThresholdOfSilence() {
        var reach = PeerReachability(threshold: 3 * second / 10, remindEvery: 60 * second, now: 0)
        XCTAssertNil(reach.check(at: 10 * second), "silence without a failure: nothing was asked")
        reach.failed("m:1: connection refused", at: 10 * second)
        XCTAssertEqual(reach.check(at: 10 * second), .unreachable(for: 10 * second, reason: "m:1: connection refused"))
        XCTAssertEqual(reach.trouble, "m:1: connection refused")

        var fresh = PeerReachability(threshold: 3 * second / 10, remindEvery: 60 * second, now: 0)
        XCTAssertNil(fresh.answered(at: 1 * second))
        fresh.failed("timed out", at: 1 * second + 1)
        XCTAssertNil(fresh.check(at: 1 * second + 2), "one failure right after an answer is no trouble yet")
        XCTAssertNil(fresh.trouble)
        XCTAssertNotNil(fresh.check(at: 1 * second + 3 * second / 10))
    }

    func testRemindersAreRateLimitedAndAnAnswerEndsTheTrouble() {
        var reach = PeerReachability(threshold: second, remindEvery: 60 * second, now: 0)
        reach.failed("refused", at: 0)
        XCTAssertNotNil(reach.check(at: second))
        for t in stride(from: 2 * second, to: 61 * second, by: Int(second)) {
            reach.failed("refused", at: t)
            XCTAssertNil(reach.check(at: t), "reminded at \(t / second) s")
        }
        XCTAssertEqual(reach.check(at: 61 * second), .stillUnreachable(for: 61 * second, reason: "refused"))
        XCTAssertEqual(reach.answered(at: 70 * second), .reachable(after: 70 * second))
        XCTAssertNil(reach.trouble)
        XCTAssertNil(reach.check(at: 80 * second), "an answer clears the failure")
        XCTAssertNil(reach.answered(at: 81 * second), "no trouble, nothing to say")
    }

    func testANewPeerStartsAfresh() {
        var reach = PeerReachability(threshold: second, remindEvery: 60 * second, now: 0)
        reach.failed("refused", at: 0)
        XCTAssertNotNil(reach.check(at: 2 * second))
        reach.reset(at: 3 * second)
        XCTAssertFalse(reach.isInTrouble)
        XCTAssertNil(reach.check(at: 10 * second))
    }
}
