import KVCheck
import KVProtocol
import XCTest

/// Delete's semantics, and keys checked independently of each other.
final class DeleteAndKeyTests: XCTestCase {
    func testDeleteReportsWhetherTheKeyExisted() {
        assertLinearizable([
            delete(1, "k", 0...1, existed: false),
            put(1, "k", "v", 2...3),
            delete(1, "k", 4...5, existed: true),
            get(1, "k", 6...7, nil),
            delete(1, "k", 8...9, existed: false),
            putHash(1, "k", "a", 10...11, previous: ""),
        ])
    }

    func testDeleteOfAKeyNeverWrittenCannotHaveFoundIt() {
        let explanation = assertNotLinearizable([delete(1, "k", 0...1, existed: true)], key: "k")
        XCTAssertTrue(explanation.contains("it says the key existed, but the key holds absent"), explanation)
    }

    func testOnlyOneOfTwoConcurrentDeletesFindsTheKey() {
        assertLinearizable([
            put(1, "k", "v", 0...1),
            delete(2, "k", 10...20, existed: true),
            delete(3, "k", 11...21, existed: false),
        ])
        assertNotLinearizable(
            [
                put(1, "k", "v", 0...1),
                delete(2, "k", 10...20, existed: true),
                delete(3, "k", 11...21, existed: true),
            ], key: "k")
    }

    func testConcurrentPutAndDeleteInEitherOrder() {
        for seen in [nil, "v"] as [String?] {
            assertLinearizable(
                [
                    put(1, "k", "v", 0...10),
                    delete(2, "k", 5...15, existed: seen == nil),
                    get(3, "k", 20...30, seen),
                ], "read \(String(describing: seen))")
        }
    }

    func testOperationsOnOtherKeysDoNotConstrainAKey() {
        assertLinearizable([
            put(1, "a", "1", 0...10),
            get(2, "b", 20...30, nil),
            put(2, "b", "2", 40...50),
            get(1, "a", 60...70, "1"),
            delete(3, "b", 80...90, existed: true),
            get(3, "a", 100...110, "1"),
        ])
    }

    func testTheFailingKeyIsNamedAmongHealthyOnes() {
        var history: [HistoryOperation] = []
        for key in ["a", "b", "c", "d"] {
            history.append(put(1, key, "1", 0...10))
            history.append(get(2, key, 20...30, "1"))
        }
        history.append(get(3, "c", 40...50, "stale"))
        let explanation = assertNotLinearizable(history, key: "c")
        XCTAssertTrue(explanation.contains("key \"c\""), explanation)
        XCTAssertFalse(explanation.contains("\"a\""), "only the failing key's operations: \(explanation)")
    }

    func testTheFirstFailingKeyInByteOrderIsReported() {
        let history = [get(1, "z", 0...1, "x"), get(1, "m", 0...1, "x"), get(1, "q", 0...1, "x")]
        assertNotLinearizable(history, key: "m")
    }

    func testBinaryKeysAndValuesAreShownAsHex() {
        let key: Bytes = [0x00, 0x09, 0xFF]
        let history = [
            HistoryOperation(
                client: 1, key: key, call: .put(value: [0x0A]), invokedAt: 0, outcome: .returned(at: 1, .stored)),
            HistoryOperation(
                client: 2, key: key, call: .get, invokedAt: 2, outcome: .returned(at: 3, .value([0x0B]))),
        ]
        guard case .notLinearizable(let failed, let explanation) = LinearizabilityChecker().check(history) else {
            return XCTFail("a read of a value never written must fail")
        }
        XCTAssertEqual(failed, key)
        XCTAssertTrue(explanation.contains("key 0x0009ff"), explanation)
        XCTAssertTrue(explanation.contains("it read 0x0b, but the key holds 0x0a"), explanation)
    }

    func testABudgetTooSmallGivesNoVerdictButAViolationElsewhereStillWins() {
        var history: [HistoryOperation] = (0..<40).map { index in put(UInt64(index), "busy", "v\(index)", 0...100) }
        history.append(get(99, "busy", 200...210, "v39"))
        // With the default budget the busy key has a verdict.
        XCTAssertEqual(LinearizabilityChecker().check(history), .linearizable)
        let tight = LinearizabilityChecker(stepBudgetPerKey: 10)
        XCTAssertEqual(tight.check(history), .timedOut(key: Array("busy".utf8)))
        history.append(get(1, "other", 0...1, "never written"))
        guard case .notLinearizable(let key, _) = tight.check(history) else {
            return XCTFail("a definite violation is worth more than a timeout")
        }
        XCTAssertEqual(key.utf8String, "other")
    }

    func testAPathologicalHistoryStopsAtTheBudget() {
        // 40 concurrent puts and a read of the 8th: the search tries the puts in
        // invocation order and must refute every order that puts "v7" early, which is
        // exponential. The budget turns that into a verdict of "no verdict".
        var history: [HistoryOperation] = (0..<40).map { index in put(UInt64(index), "k", "v\(index)", 0...100) }
        history.append(get(99, "k", 200...210, "v7"))
        XCTAssertEqual(
            LinearizabilityChecker(stepBudgetPerKey: 50_000).check(history), .timedOut(key: Array("k".utf8)))
    }
}
