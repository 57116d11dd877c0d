import KVProtocol
import XCTest

@testable import ServerCore

/// What one transaction does to a store, decided by the primary (docs/DESIGN.md §3.13).
final class TxnExecutionTests: XCTestCase {
    let now: UInt64 = 1_000_000

    private func run(_ txn: Txn, on store: inout KeyValueStore, at time: UInt64? = nil) -> (TxnOutcome, StoreChange) {
        let before = store
        var execution = TxnExecution(revision: store.revision, now: time ?? now)
        let outcome = execution.run(txn, on: &store)
        // What the backup and the log do with the change must give the same store.
        var replayed = before
        replayed.apply(execution.change, revision: outcome.revision)
        XCTAssertEqual(replayed, store, "the forwarded change rebuilds the primary's store")
        // And an undone transaction leaves nothing behind.
        var undone = store
        var undoing = execution
        undoing.rollBack(&undone)
        XCTAssertEqual(undone, before, "rolled back")
        return (outcome, execution.change)
    }

    func testRollingBackUndoesEveryKindOfChangeInOrder() {
        var store: KeyValueStore = [b("a"): b("1"), b("b"): b("2")]
        _ = result(.expire(b("b"), .after(50), .always), on: &store)
        _ = run(
            Txn(success: [
                .put(b("a"), value: b("x"), expiry: .after(9), returnPrevious: false), .delete(b("b")), .add(b("c"), 1),
                .deleteAll, .put(b("a"), value: b("y"), expiry: .never, returnPrevious: false),
                .rename(b("a"), to: b("d"), onlyIfAbsent: false),
            ]), on: &store)
        XCTAssertEqual(store.keysInOrder, [b("d")])
    }

    private func result(_ op: TxnOp, on store: inout KeyValueStore, at time: UInt64? = nil) -> TxnOpResult {
        run(Txn(success: [op]), on: &store, at: time).0.results[0]
    }

    func testComparesChooseTheBranch() {
        var store: KeyValueStore = [b("a"): b("1")]
        let cases: [(Compare, Bool)] = [
            (.exists(b("a")), true), (.absent(b("a")), false), (.absent(b("z")), true), (.exists(b("z")), false),
            (Compare(key: b("a"), .revision(1), .equal), true), (Compare(key: b("z"), .revision(0), .equal), true),
            (Compare(key: b("a"), .revision(1), .greater), false), (Compare(key: b("a"), .revision(2), .less), true),
            (Compare(key: b("a"), .value(b("1")), .equal), true),
            (Compare(key: b("a"), .value(b("0")), .greater), true),
            (Compare(key: b("a"), .value(b("2")), .notEqual), true),
            // A missing key fails every value compare, as in etcd.
            (Compare(key: b("z"), .value(b("")), .notEqual), false),
        ]
        for (compare, holds) in cases {
            let (outcome, _) = run(Txn(compares: [compare], success: [.get(b("a"))], failure: []), on: &store)
            XCTAssertEqual(outcome.succeeded, holds, "\(compare)")
            XCTAssertEqual(outcome.results.count, holds ? 1 : 0)
        }
    }

    func testOneTransactionIsOneRevisionAndReadsChangeNothing() {
        var store: KeyValueStore = [b("a"): b("1")]
        let (written, change) = run(
            Txn(success: [.put(b("x"), value: b("1"), expiry: .never, returnPrevious: false), .delete(b("a"))]),
            on: &store)
        XCTAssertEqual(written.revision, 2)
        XCTAssertEqual(store.revision, 2)
        XCTAssertEqual(store[b("x")]?.revision, 2)
        guard case .several(let changes) = change else { return XCTFail("\(change)") }
        XCTAssertEqual(changes.count, 2)
        let (read, readChange) = run(Txn(success: [.get(b("x"))]), on: &store)
        XCTAssertEqual(read.revision, 2, "a read leaves the revision")
        XCTAssertEqual(readChange, StoreChange.none)
        let (failed, _) = run(Txn(compares: [.absent(b("x"))], success: [.deleteAll]), on: &store)
        XCTAssertFalse(failed.succeeded)
        XCTAssertEqual(store.revision, 2)
    }

    func testLaterOperationsSeeEarlierOnes() {
        var store = KeyValueStore()
        let (outcome, _) = run(
            Txn(success: [
                .add(b("n"), 5), .add(b("n"), -2), .get(b("n")), .append(b("n"), b("0")),
                .rename(b("n"), to: b("m"), onlyIfAbsent: false), .get(b("n")),
            ]), on: &store)
        XCTAssertEqual(outcome.results[0], .integer(5))
        XCTAssertEqual(outcome.results[1], .integer(3))
        XCTAssertEqual(outcome.results[3], .integer(2))
        XCTAssertEqual(outcome.results[4], .integer(1))
        XCTAssertEqual(outcome.results[5], .value(nil))
        XCTAssertEqual(store.value(b("m")), b("30"))
    }

    func testCountersFollowRedisRules() {
        var store: KeyValueStore = [
            b("text"): b("abc"), b("spaced"): b(" 1"), b("zeros"): b("01"), b("max"): b("9223372036854775807"),
        ]
        XCTAssertEqual(result(.add(b("new"), 1), on: &store), .integer(1))
        for key in ["text", "spaced", "zeros"] {
            XCTAssertEqual(result(.add(b(key), 1), on: &store), .error(.notInteger), key)
        }
        XCTAssertEqual(result(.add(b("max"), 1), on: &store), .error(.overflow))
        XCTAssertEqual(store.value(b("max")), b("9223372036854775807"), "a failed operation changes nothing")
        XCTAssertEqual(result(.add(b("max"), .min), on: &store), .integer(-1))
        XCTAssertEqual(result(.addFloat(b("f"), 10.5), on: &store), .bytes(b("10.5")))
        XCTAssertEqual(result(.addFloat(b("f"), 0.5), on: &store), .bytes(b("11")))
        XCTAssertEqual(result(.addFloat(b("text"), 1), on: &store), .error(.notFloat))
        XCTAssertEqual(result(.addFloat(b("f"), .infinity), on: &store), .error(.notFinite))
        XCTAssertEqual(result(.addFloat(b("big"), 1e20), on: &store), .bytes(b("100000000000000000000")))
    }

    func testDeadlines() {
        var store = KeyValueStore()
        _ = result(.put(b("k"), value: b("v"), expiry: .after(5_000), returnPrevious: false), on: &store)
        XCTAssertEqual(store[b("k")]?.expiresAt, now + 5_000)
        _ = result(.add(b("k2"), 1), on: &store)
        _ = result(.expire(b("k2"), .at(now + 100), .always), on: &store)
        XCTAssertEqual(result(.add(b("k2"), 1), on: &store), .integer(2))
        XCTAssertEqual(store[b("k2")]?.expiresAt, now + 100, "a counter keeps its deadline")
        _ = result(.put(b("k"), value: b("w"), expiry: .keep, returnPrevious: false), on: &store)
        XCTAssertEqual(store[b("k")]?.expiresAt, now + 5_000, "KEEPTTL")
        _ = result(.put(b("k"), value: b("w"), expiry: .never, returnPrevious: false), on: &store)
        XCTAssertEqual(store[b("k")]?.expiresAt, StoredValue.never, "a plain SET clears the deadline")
        // Expired keys read as absent, and a write over one starts afresh.
        XCTAssertEqual(result(.get(b("k2")), on: &store, at: now + 100), .value(nil))
        XCTAssertEqual(result(.add(b("k2"), 1), on: &store, at: now + 100), .integer(1))
        XCTAssertEqual(store[b("k2")]?.expiresAt, StoredValue.never)
        // A deadline already past deletes the key, as Redis's SET EXAT in the past does.
        _ = result(.put(b("k"), value: b("v"), expiry: .at(now - 1), returnPrevious: false), on: &store)
        XCTAssertNil(store[b("k")])
    }

    func testExpireConditions() {
        var store: KeyValueStore = [b("k"): b("v")]
        let later = TxnOp.expire(b("k"), .at(now + 2_000), .ifLater)
        XCTAssertEqual(result(later, on: &store), .integer(0), "GT: no deadline counts as infinite")
        XCTAssertEqual(result(.expire(b("k"), .at(now + 1_000), .ifSome), on: &store), .integer(0))
        XCTAssertEqual(result(.expire(b("k"), .at(now + 1_000), .ifNone), on: &store), .integer(1))
        XCTAssertEqual(result(.expire(b("k"), .at(now + 3_000), .ifNone), on: &store), .integer(0))
        XCTAssertEqual(result(later, on: &store), .integer(1))
        XCTAssertEqual(result(.expire(b("k"), .at(now + 2_500), .ifEarlier), on: &store), .integer(0))
        XCTAssertEqual(result(.expire(b("k"), .at(now + 1_500), .ifEarlier), on: &store), .integer(1))
        XCTAssertEqual(store[b("k")]?.expiresAt, now + 1_500)
        XCTAssertEqual(result(.expire(b("k"), .never, .always), on: &store), .integer(1), "PERSIST")
        XCTAssertEqual(result(.expire(b("k"), .never, .always), on: &store), .integer(0))
        XCTAssertEqual(result(.expire(b("missing"), .after(1), .always), on: &store), .integer(0))
        XCTAssertEqual(result(.expire(b("k"), .at(now), .always), on: &store), .integer(1))
        XCTAssertNil(store[b("k")], "a deadline not after now deletes")
    }

    func testRenameMovesTheDeadline() {
        var store = KeyValueStore()
        _ = result(.put(b("a"), value: b("1"), expiry: .after(10), returnPrevious: false), on: &store)
        _ = result(.put(b("b"), value: b("2"), expiry: .never, returnPrevious: false), on: &store)
        XCTAssertEqual(result(.rename(b("a"), to: b("b"), onlyIfAbsent: true), on: &store), .integer(0))
        XCTAssertEqual(result(.rename(b("a"), to: b("c"), onlyIfAbsent: false), on: &store), .integer(1))
        XCTAssertEqual(store[b("c")]?.expiresAt, now + 10)
        XCTAssertNil(store[b("a")])
        XCTAssertEqual(result(.rename(b("a"), to: b("c"), onlyIfAbsent: false), on: &store), .error(.noSuchKey))
    }

    func testRangesPageThroughEveryKeyOnceInOrder() {
        var values: [Bytes: Bytes] = [:]
        for i in 0..<250 { values[b("user:\(i)")] = b("\(i)") }
        values[b("other")] = b("x")
        var store = KeyValueStore(values: values)
        _ = result(.expire(b("user:7"), .at(now + 1), .always), on: &store)
        var seen: [Bytes] = []
        var start: Bytes = []
        var pages = 0
        while true {
            let page = result(
                .range(KeyRange(start: start, prefix: b("user:"), limit: 40, keysOnly: true)), on: &store, at: now + 1)
            guard case .range(let items, let next) = page else { return XCTFail("\(page)") }
            XCTAssertLessThanOrEqual(items.count, 40)
            seen += items.map(\.key)
            pages += 1
            guard let next else { break }
            start = next
        }
        XCTAssertEqual(pages, 7)
        let expected = values.keys.filter { $0.starts(with: b("user:")) && $0 != b("user:7") }
        XCTAssertEqual(seen, expected.sorted { ByteOrder.less($0, $1) }, "each live key once, in byte order")
        let matching = result(.range(KeyRange(pattern: b("user:1?"), limit: 1_000)), on: &store)
        guard case .range(let found, nil) = matching else { return XCTFail("\(matching)") }
        XCTAssertEqual(found.map(\.key.utf8String), (10...19).map { "user:\($0)" })
        XCTAssertEqual(found.first?.value?.value, b("10"))
    }
}

extension TxnExecutionTests {
    /// Every range of a transaction draws on one budget of keys to look at, so one
    /// request's work is bounded however many ranges it holds; a range past the budget
    /// says where to go on.
    func testRangesShareOneBudgetOfKeysToLookAt() {
        var values: [Bytes: Bytes] = [:]
        for i in 0..<30 { values[b("k\(i + 10)")] = b("v") }
        var store = KeyValueStore(values: values)
        var execution = TxnExecution(revision: store.revision, now: now, rangeVisits: 45)
        let whole = TxnOp.range(KeyRange(limit: 1_000, keysOnly: true))
        let outcome = execution.run(Txn(success: [whole, whole, whole]), on: &store)
        guard case .range(let first, nil) = outcome.results[0], case .range(let second, let next?) = outcome.results[1],
            case .range(let third, let resume?) = outcome.results[2]
        else { return XCTFail("\(outcome.results)") }
        XCTAssertEqual(first.count, 30)
        XCTAssertEqual(second.count, 15, "what was left of the budget")
        XCTAssertEqual(next, b("k25"))
        XCTAssertEqual(third.count, 0)
        XCTAssertEqual(resume, b("k10"), "an exhausted budget still says where the range starts")
    }

    func testARangePassingOverExpiredKeysNamesEachOnceAndCountsTheirBytes() {
        var store = KeyValueStore()
        let long = Bytes(repeating: 0x78, count: 1_000)
        for i in 0..<10 { store.put(long + b("\(i)"), StoredValue(value: [], revision: 1, expiresAt: now)) }
        var execution = TxnExecution(revision: store.revision, now: now)
        let range = TxnOp.range(KeyRange(limit: 100, keysOnly: true))
        _ = execution.run(Txn(success: [range, range]), on: &store)
        XCTAssertEqual(execution.expiredSeen.count, 10, "each expired key once, however many ranges passed it")
    }
}

extension TxnExecutionTests {
    /// Redis's XX with LT: shorten a deadline, never set one.
    func testExpireXXWithLTOnlyShortensADeadline() {
        var store: KeyValueStore = [b("k"): b("v")]
        let shorten = TxnOp.expire(b("k"), .at(now + 1_000), .ifSomeAndEarlier)
        XCTAssertEqual(result(shorten, on: &store), .integer(0), "no deadline to shorten")
        XCTAssertEqual(store[b("k")]?.expiresAt, StoredValue.never)
        _ = result(.expire(b("k"), .at(now + 2_000), .always), on: &store)
        XCTAssertEqual(result(shorten, on: &store), .integer(1))
        XCTAssertEqual(store[b("k")]?.expiresAt, now + 1_000)
        XCTAssertEqual(result(.expire(b("k"), .at(now + 1_500), .ifSomeAndEarlier), on: &store), .integer(0))
    }
}
