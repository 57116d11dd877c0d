import KVCheck
import XCTest

/// Histories a correct store can produce: the checker must accept every one.
final class LinearizableHistoryTests: XCTestCase {
    func testEmptyHistory() {
        assertLinearizable([])
    }

    func testSequentialOperations() {
        assertLinearizable([
            get(1, "k", 0...1, nil),
            put(1, "k", "a", 2...3),
            get(2, "k", 4...5, "a"),
            put(2, "k", "b", 6...7),
            get(1, "k", 8...9, "b"),
        ])
    }

    func testOverlappingWritesMayTakeEffectInEitherOrder() {
        // The puts overlap, so a later read may see either as the last one.
        for winner in ["1", "2"] {
            assertLinearizable(
                [
                    put(1, "k", "1", 0...10),
                    put(2, "k", "2", 5...15),
                    get(3, "k", 20...30, winner),
                    get(1, "k", 31...40, winner),
                ], "last write \(winner)")
        }
    }

    func testReadOverlappingAWriteMaySeeOldOrNew() {
        for seen in [nil, "new"] as [String?] {
            assertLinearizable(
                [put(1, "k", "new", 10...30), get(2, "k", 5...35, seen)], "read \(String(describing: seen))")
        }
    }

    func testReturnOrderNeedNotBeEffectOrder() {
        // Client 2's put returns first, yet client 1's put took effect after it: allowed,
        // both ran concurrently.
        assertLinearizable([
            put(1, "k", "1", 0...100),
            put(2, "k", "2", 10...20),
            get(3, "k", 30...40, "2"),
            get(3, "k", 50...60, "1"),
        ])
    }

    func testPutHashChain() {
        let first = hashed("", "a")
        let second = hashed(first, "b")
        let third = hashed(second, "c")
        assertLinearizable([
            putHash(1, "k", "a", 0...10, previous: ""),
            putHash(2, "k", "b", 20...30, previous: first),
            putHash(1, "k", "c", 40...50, previous: second),
            get(3, "k", 60...70, third),
        ])
    }

    func testConcurrentPutHashesChainInTheOrderTheyTookEffect() {
        // Invoked 1, 2, 3 but applied 3, 1, 2: every previous value is the one before.
        let afterC = hashed("seed", "c")
        let afterA = hashed(afterC, "a")
        let afterB = hashed(afterA, "b")
        assertLinearizable([
            put(9, "k", "seed", 0...5),
            putHash(1, "k", "a", 10...60, previous: afterC),
            putHash(2, "k", "b", 11...70, previous: afterA),
            putHash(3, "k", "c", 12...50, previous: "seed"),
            get(4, "k", 80...90, afterB),
        ])
    }

    func testOperationsTouchingInTimeCountAsConcurrent() {
        // The get returns at 10 and the put is invoked at 10: a clock that cannot order
        // them must not produce a false alarm.
        assertLinearizable([put(1, "k", "v", 10...20), get(2, "k", 0...10, "v")])
    }

    func testRecorderBuildsACheckableHistory() {
        var recorder = HistoryRecorder()
        let write = recorder.invoke(client: 1, key: Array("k".utf8), .put(value: Array("v".utf8)), at: 0)
        let read = recorder.invoke(client: 2, key: Array("k".utf8), .get, at: 1)
        _ = recorder.invoke(client: 3, key: Array("k".utf8), .putHash(argument: Array("x".utf8)), at: 2)
        recorder.complete(read, .value(Array("v".utf8)), at: 5)
        recorder.complete(write, .stored, at: 6)
        XCTAssertEqual(recorder.operations.count, 3)
        XCTAssertEqual(recorder.operations[2].outcome, .unknown, "never completed: unknown outcome")
        XCTAssertEqual(recorder.operations[1].outcome, .returned(at: 5, .value(Array("v".utf8))))
        assertLinearizable(recorder.operations)
    }
}
