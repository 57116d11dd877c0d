import KVCheck
import XCTest

/// Histories no linearizable store can produce: the checker must reject each, name the
/// key, and explain with the operations involved.
final class ViolationTests: XCTestCase {
    func testStaleReadAfterACompletedWrite() {
        let explanation = assertNotLinearizable(
            [put(1, "k", "1", 0...10), get(2, "k", 20...30, nil)], key: "k")
        XCTAssertTrue(explanation.contains("key \"k\""), explanation)
        XCTAssertTrue(explanation.contains("client 1 put \"k\" \"1\" -> ok [0, 10]"), explanation)
        XCTAssertTrue(explanation.contains("client 2 get \"k\" -> absent [20, 30]"), explanation)
        XCTAssertTrue(explanation.contains("it read absent, but the key holds \"1\""), explanation)
    }

    func testLostAcknowledgedWrite() {
        // "b" was acknowledged, then a read after it sees the value before it.
        let explanation = assertNotLinearizable(
            [
                put(1, "k", "a", 0...10),
                put(1, "k", "b", 20...30),
                get(2, "k", 40...50, "a"),
            ], key: "k")
        XCTAssertTrue(explanation.contains("put \"k\" \"b\""), explanation)
        XCTAssertTrue(explanation.contains("get \"k\" -> \"a\" [40, 50]"), explanation)
    }

    func testTwoPutHashesReturningTheSamePreviousValue() {
        // At-most-once broken (or a lost update): both claim to have followed "a".
        let explanation = assertNotLinearizable(
            [
                put(1, "k", "a", 0...10),
                putHash(2, "k", "x", 20...40, previous: "a"),
                putHash(3, "k", "y", 25...45, previous: "a"),
            ], key: "k")
        XCTAssertTrue(explanation.contains("client 2 puthash"), explanation)
        XCTAssertTrue(explanation.contains("client 3 puthash"), explanation)
        XCTAssertTrue(explanation.contains("previous \"a\""), explanation)
    }

    func testAReadDoesNotGoBackInTime() {
        // Once a read has seen "new", a later read cannot see "old" again.
        assertNotLinearizable(
            [
                put(1, "k", "old", 0...5),
                put(1, "k", "new", 10...100),
                get(2, "k", 20...30, "new"),
                get(3, "k", 40...50, "old"),
            ], key: "k")
    }

    func testReadOfAValueNeverWritten() {
        let explanation = assertNotLinearizable(
            [put(1, "k", "a", 0...10), get(2, "k", 5...15, "zzz")], key: "k")
        XCTAssertTrue(explanation.contains("it read \"zzz\""), explanation)
    }

    func testPutHashWithAWrongPreviousValue() {
        assertNotLinearizable([putHash(1, "k", "a", 0...10, previous: "something")], key: "k")
    }

    func testExplanationShowsOnlyTheLastPartOfALongPrefix() {
        var history: [HistoryOperation] = []
        for index in 0..<20 {
            let start = UInt64(10 * index)
            history.append(put(1, "k", "v\(index)", start...start + 5))
        }
        history.append(get(2, "k", 500...510, "v3"))
        let explanation = assertNotLinearizable(history, key: "k")
        XCTAssertTrue(explanation.contains("20 operations"), explanation)
        XCTAssertTrue(explanation.contains("… 12 earlier operations"), explanation)
        XCTAssertTrue(explanation.contains("\"v19\" -> ok"), explanation)
        XCTAssertFalse(explanation.contains("\"v11\" -> ok"), explanation)
    }

    func testInvalidHistoriesAreRefusedNotJudged() {
        let backwards = put(1, "k", "v", 0...10)
        var reversed = backwards
        reversed.invokedAt = 20
        guard case .invalidHistory(let reason) = LinearizabilityChecker().check([reversed]) else {
            return XCTFail("a return before its invocation must be refused")
        }
        XCTAssertTrue(reason.contains("returns before"), reason)

        var mismatched = backwards
        mismatched.outcome = .returned(at: 10, .existed(true))
        guard case .invalidHistory(let why) = LinearizabilityChecker().check([mismatched]) else {
            return XCTFail("a put answered like a delete must be refused")
        }
        XCTAssertTrue(why.contains("wrong kind"), why)
    }
}
