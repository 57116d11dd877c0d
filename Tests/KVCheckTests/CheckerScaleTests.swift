import KVCheck
import KVProtocol
import XCTest

/// Histories the size of a chaos run must get a verdict within the default budget.
final class CheckerScaleTests: XCTestCase {
    func testTenClientsTwoThousandOperationsEachOnTwentyKeys() {
        let history = RandomHistory.generate(clients: 10, operationsPerClient: 2_000, keys: 20, seed: 2024)
        XCTAssertEqual(history.count, 20_000)
        XCTAssertGreaterThan(history.filter { $0.outcome == .unknown }.count, 100, "some timeouts in the mix")
        XCTAssertEqual(LinearizabilityChecker().check(history), .linearizable)
    }

    func testOneCorruptedReadInALargeHistoryIsFound() {
        var history = RandomHistory.generate(clients: 10, operationsPerClient: 2_000, keys: 20, seed: 7)
        // Corrupt a read in the middle so it sees a value no one wrote.
        let index = history.indices.first { index in
            index > 10_000 && history[index].call == .get && history[index].outcome != .unknown
        }!
        guard case .returned(let at, _) = history[index].outcome else { return XCTFail("chosen read has returned") }
        history[index].outcome = .returned(at: at, .value(Bytes(utf8: "corrupt")))
        let result = LinearizabilityChecker().check(history)
        guard case .notLinearizable(let key, let explanation) = result else {
            return XCTFail("expected a violation, got \(result)")
        }
        XCTAssertEqual(key, history[index].key)
        XCTAssertTrue(explanation.contains("it read \"corrupt\""), explanation)
    }
}
