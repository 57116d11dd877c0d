import KVCheck
import KVProtocol
import XCTest

/// The checker on many transaction histories that are linearizable by construction: it
/// must never raise a false alarm, and it must find most corrupted answers.
final class RandomTransactionTests: XCTestCase {
    func testLinearizableHistoriesPass() {
        for seed in UInt64(0)..<400 {
            let history = RandomTransactionHistory.generate(
                clients: 2 + Int(seed % 4), operationsPerClient: 10 + Int(seed % 30), seed: seed)
            let result = LinearizabilityChecker(stepBudgetPerKey: 2_000_000).check(history)
            XCTAssertEqual(result, .linearizable, "seed \(seed)")
            if result != .linearizable { return }
        }
    }

    func testTheirHistoryFilesReadBackTheSame() throws {
        let history = RandomTransactionHistory.generate(clients: 4, operationsPerClient: 60, seed: 5)
        let text = HistoryFile.encode(history)
        XCTAssertTrue(text.hasPrefix(HistoryFile.headerV2 + "\n"))
        XCTAssertEqual(try HistoryFile.decode(text), history)
    }

    func testMostCorruptedRevisionsAreFound() {
        var found = 0
        var corrupted = 0
        for seed in UInt64(0)..<200 {
            var history = RandomTransactionHistory.generate(clients: 3, operationsPerClient: 20, seed: seed)
            guard
                let index = history.indices.first(where: { index in
                    if case .returned(_, .entry(_?)) = history[index].outcome { return true }
                    return false
                }), case .returned(let at, .entry(let entry?)) = history[index].outcome
            else { continue }
            corrupted += 1
            history[index].outcome = .returned(
                at: at, .entry(VersionedValue(entry.value, revision: entry.revision + 1)))
            if case .notLinearizable = LinearizabilityChecker().check(history) { found += 1 }
        }
        XCTAssertGreaterThan(corrupted, 150)
        XCTAssertGreaterThan(found, corrupted * 3 / 4, "\(found) of \(corrupted)")
    }
}
