import KVProtocol
import XCTest

@testable import KVCheck

/// The memo's compact keys: the same verdicts as before, and memory near-linear in one
/// key's operations.
final class CheckerMemoryTests: XCTestCase {
    /// Step for step the same search as with full bitsets: the same verdicts, steps, memo
    /// entries and dead ends, so the compact keys name exactly the sets the bitsets did.
    func testTheSearchMatchesTheFullBitsetSearchOnRandomHistories() {
        var verdicts = (linearizable: 0, violation: 0, exhausted: 0)
        for seed in 0..<240 {
            var history = RandomHistory.generate(
                clients: 2 + seed % 5, operationsPerClient: 5 + seed % 37, keys: 1 + seed % 2,
                seed: UInt64(seed), unknownPercent: [0, 5, 20][seed % 3])
            if seed % 2 == 1 { corrupt(&history, seed: UInt64(seed)) }
            for (key, compiled) in compile(history) {
                let label = "seed \(seed) key \(key.utf8String)"
                var newModel = compiled.model
                var oldModel = compiled.model
                var statistics = KeySearch.Statistics()
                let new = KeySearch.run(
                    steps: compiled.steps, invokedAt: compiled.invokedAt, returnedAt: compiled.returnedAt,
                    model: &newModel, budget: 100_000, statistics: &statistics)
                let old = FullBitsetSearch.run(
                    steps: compiled.steps, invokedAt: compiled.invokedAt, returnedAt: compiled.returnedAt,
                    model: &oldModel, budget: 100_000)
                XCTAssertEqual(statistics.steps, old.steps, label)
                XCTAssertEqual(statistics.memoEntries, old.memoEntries, label)
                switch (new, old.verdict) {
                case (.linearizable, .linearizable):
                    verdicts.linearizable += 1
                case (.budgetExhausted, .budgetExhausted):
                    verdicts.exhausted += 1
                case (.notLinearizable(let a), .notLinearizable(let b)):
                    verdicts.violation += 1
                    XCTAssertEqual(a.linearizedCount, b.linearizedCount, label)
                    XCTAssertEqual(a.lastLinearized, b.lastLinearized, label)
                    XCTAssertEqual(a.state, b.state, label)
                    XCTAssertEqual(a.blocked, b.blocked, label)
                    XCTAssertEqual(a.concurrent, b.concurrent, label)
                default:
                    XCTFail("\(label): \(new) with compact keys, \(old.verdict) with full bitsets")
                }
            }
        }
        XCTAssertGreaterThan(verdicts.linearizable, 100, "\(verdicts)")
        XCTAssertGreaterThan(verdicts.violation, 60, "\(verdicts)")
    }

    /// An independent oracle: every order of the operations that respects real time, each
    /// unknown outcome taking effect or not, on a plain optional value.
    func testTheVerdictsMatchABruteForceSearchOnSmallHistories() {
        var verdicts = (linearizable: 0, violation: 0)
        for seed in 0..<3_000 {
            var rng = SplitMix64(seed: UInt64(seed))
            var history = SmallHistory.generate(operations: 1 + rng.below(7), rng: &rng)
            if rng.below(2) == 0 { SmallHistory.mutate(&history, rng: &rng) }
            let expected = SmallHistory.isLinearizable(history)
            let result = LinearizabilityChecker().check(history)
            XCTAssertEqual(result == .linearizable, expected, "seed \(seed): \(history)\n\(result)")
            if expected { verdicts.linearizable += 1 } else { verdicts.violation += 1 }
        }
        XCTAssertGreaterThan(verdicts.linearizable, 1_000, "\(verdicts)")
        XCTAssertGreaterThan(verdicts.violation, 300, "\(verdicts)")
    }

    /// 48,000 operations on one key from 8 clients: the memo must stay within 512 bytes
    /// per operation (it takes 264), and grow in proportion to the operations (a quarter as
    /// many take as much per operation). The old memo, a bitset of every operation per
    /// entry, took 1.8 GB here (37,700 bytes per operation, 9,600 for a quarter as many).
    func testOneKeysLongHistoryChecksInMemoryLinearInItsOperations() {
        let checker = LinearizabilityChecker(stepBudgetPerKey: 20_000_000)
        var costs: [SearchStatistics] = []
        for operationsPerClient in [1_500, 6_000] {
            let history = RandomHistory.generate(
                clients: 8, operationsPerClient: operationsPerClient, keys: 1, seed: 17, unknownPercent: 1)
            var statistics: [Bytes: SearchStatistics] = [:]
            XCTAssertEqual(checker.check(history, statistics: &statistics), .linearizable)
            guard let cost = statistics[Bytes(utf8: "key0")] else { return XCTFail("key0 was searched") }
            costs.append(cost)
        }
        let (short, long) = (costs[0], costs[1])
        XCTAssertGreaterThan(long.operations, 47_000)
        XCTAssertLessThanOrEqual(long.memoBytes, 512 * long.operations, "\(long)")
        let perOperation = (
            short: Double(short.memoBytes) / Double(short.operations),
            long: Double(long.memoBytes) / Double(long.operations)
        )
        XCTAssertLessThan(perOperation.long, 1.5 * perOperation.short, "\(short) then \(long)")
        // The same entries, each a bitset of all the operations: what the old memo held.
        let fullBitsets = long.memoEntries * ((long.operations + 63) / 64 * 8)
        XCTAssertGreaterThan(fullBitsets, 1_000_000_000, "\(long)")
    }

    // MARK: - Helpers

    struct CompiledKey {
        var steps: [SequentialKeyModel.Step] = []
        var invokedAt: [UInt64] = []
        var returnedAt: [UInt64?] = []
        var model = SequentialKeyModel()
    }

    /// Each key's operations as the checker compiles them.
    private func compile(_ history: [HistoryOperation]) -> [(Bytes, CompiledKey)] {
        var byKey: [Bytes: CompiledKey] = [:]
        for operation in history {
            var compiled = byKey[operation.key] ?? CompiledKey()
            guard let step = compiled.model.compile(operation) else { continue }
            compiled.steps.append(step)
            compiled.invokedAt.append(operation.invokedAt)
            if case .returned(let at, _) = operation.outcome {
                compiled.returnedAt.append(at)
            } else {
                compiled.returnedAt.append(nil)
            }
            byKey[operation.key] = compiled
        }
        return byKey.sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }

    /// Replaces one or two answers by others of the same kind, which usually makes the
    /// history not linearizable.
    private func corrupt(_ history: inout [HistoryOperation], seed: UInt64) {
        var rng = SplitMix64(seed: seed ^ 0xC0FFEE)
        for _ in 0...rng.below(2) {
            let index = rng.below(history.count)
            guard case .returned(let at, let response) = history[index].outcome else { continue }
            let other: Response
            switch response {
            case .value(let value): other = .value(value == nil ? Bytes(utf8: "c0-\(rng.below(9))") : nil)
            case .stored: continue
            case .previous: other = .previous(Bytes(utf8: "\(rng.below(100))"))
            case .existed(let existed): other = .existed(!existed)
            default: continue  // the transactions' answers: not in these histories
            }
            history[index].outcome = .returned(at: at, other)
        }
    }
}

/// Histories of a few operations on one key, and linearizability decided by trying every
/// order: an oracle that shares no code with the checker.
enum SmallHistory {
    static let values = ["a", "b"]

    /// Operations taking effect at a random instant of their span, with the responses
    /// that gives; some time out and then take effect or not.
    static func generate(operations: Int, rng: inout SplitMix64) -> [HistoryOperation] {
        var planned: [(operation: HistoryOperation, effectAt: UInt64, returnedAt: UInt64, applies: Bool)] = []
        for index in 0..<operations {
            let invokedAt = UInt64(rng.below(20))
            let effectAt = invokedAt + UInt64(rng.below(6))
            let returnedAt = effectAt + UInt64(rng.below(6))
            let unknown = rng.below(6) == 0
            let call: Call
            switch rng.below(4) {
            case 0: call = .get
            case 1: call = .put(value: Bytes(utf8: values[rng.below(2)]))
            case 2: call = .putHash(argument: Bytes(utf8: values[rng.below(2)]))
            default: call = .delete
            }
            let operation = HistoryOperation(
                client: UInt64(index), key: Bytes(utf8: "k"), call: call, invokedAt: invokedAt,
                outcome: unknown ? .unknown : .returned(at: returnedAt, .stored))
            planned.append((operation, effectAt, returnedAt, !unknown || rng.below(2) == 0))
        }
        var value: Bytes?
        for index in planned.indices.sorted(by: { (planned[$0].effectAt, $0) < (planned[$1].effectAt, $1) }) {
            guard planned[index].applies else { continue }
            guard let (after, response) = apply(planned[index].operation.call, to: value) else { continue }
            value = after
            if case .returned(let at, _) = planned[index].operation.outcome {
                planned[index].operation.outcome = .returned(at: at, response)
            }
        }
        return planned.map(\.operation)
    }

    /// Changes one answer, or moves one operation in time.
    static func mutate(_ history: inout [HistoryOperation], rng: inout SplitMix64) {
        let index = rng.below(history.count)
        guard case .returned(let at, let response) = history[index].outcome else { return }
        if rng.below(4) == 0 {
            let shift = UInt64(rng.below(10))
            history[index].invokedAt += shift
            history[index].outcome = .returned(at: at + shift, response)
            return
        }
        let pool: [Bytes?] = [nil, Bytes(utf8: "a"), Bytes(utf8: "b"), Bytes(utf8: hashed("", "a"))]
        switch response {
        case .value: history[index].outcome = .returned(at: at, .value(pool[rng.below(pool.count)]))
        case .previous: history[index].outcome = .returned(at: at, .previous(pool[rng.below(pool.count)] ?? []))
        case .existed(let existed): history[index].outcome = .returned(at: at, .existed(!existed))
        default: break
        }
    }

    static func isLinearizable(_ history: [HistoryOperation]) -> Bool {
        search(remaining: Set(history.indices), value: nil, history)
    }

    private static func search(remaining: Set<Int>, value: Bytes?, _ history: [HistoryOperation]) -> Bool {
        // Operations left with unknown outcomes may never have taken effect.
        if remaining.allSatisfy({ history[$0].outcome == .unknown }) { return true }
        for candidate in remaining {
            // Not before an operation that returned before it was invoked.
            let mustWait = remaining.contains { other in
                guard case .returned(let at, _) = history[other].outcome else { return false }
                return at < history[candidate].invokedAt
            }
            if mustWait { continue }
            guard let (after, response) = apply(history[candidate].call, to: value) else { continue }
            if case .returned(_, let seen) = history[candidate].outcome, seen != response { continue }
            if search(remaining: remaining.subtracting([candidate]), value: after, history) { return true }
        }
        return false
    }

    /// The value after `call` and its response.
    private static func apply(_ call: Call, to value: Bytes?) -> (Bytes?, Response)? {
        switch call {
        case .get: return (value, .value(value))
        case .put(let new): return (new, .stored)
        case .putHash(let argument):
            return (PutHash.newValue(previous: value ?? [], argument: argument), .previous(value ?? []))
        case .delete: return (nil, .existed(value != nil))
        default: preconditionFailure("not generated: \(call)")
        }
    }
}
