import KVProtocol
import XCTest

@testable import ServerCore

/// The primary's queue of deadlines: earliest first, keys due at the same time in byte
/// order, whatever order they came in (a transfer's, a snapshot's or a compaction's comes
/// from the store's table, whose order depends on the process's seed).
final class DeadlineQueueTests: XCTestCase {
    private func drain(_ queue: inout DeadlineQueue) -> [(UInt64, String)] {
        var out: [(UInt64, String)] = []
        while let (at, key) = queue.earliest(notAfter: .max) {
            out.append((at, String(decoding: key, as: UTF8.self)))
            queue.removeEarliest()
        }
        return out
    }

    private func sorted(_ entries: [(UInt64, String)]) -> [(UInt64, String)] {
        entries.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
    }

    func testEntriesComeOutEarliestFirstAndTiesInKeyOrder() {
        // Few distinct deadlines, so that most entries tie with others.
        let entries = (0..<500).map { (UInt64.random(in: 0..<20), "k\($0)") }
        let expected = sorted(entries)
        for order in [entries, entries.reversed(), entries.shuffled()] {
            var queue = DeadlineQueue()
            for (at, key) in order { queue.add(Bytes(key.utf8), at: at) }
            let out = drain(&queue)
            XCTAssertEqual(out.map(\.0), expected.map(\.0))
            XCTAssertEqual(out.map(\.1), expected.map(\.1))
            XCTAssertNil(queue.earliest(notAfter: .max))
        }
    }

    func testACompactionKeepsTheOrderWhateverOrderTheTableGivesTheKeysIn() {
        let live: [(UInt64, Bytes)] = [
            (7, Bytes("c".utf8)), (5, Bytes("b".utf8)), (7, Bytes("a".utf8)), (5, Bytes("d".utf8)),
            (7, Bytes("b".utf8)), (3, Bytes("z".utf8)), (5, Bytes("a".utf8)),
        ]
        for rebuildOrder in [live, live.reversed(), live.shuffled(), live.shuffled()] {
            var queue = DeadlineQueue()
            // Stale entries (deadlines changed since), enough to call for a compaction.
            for index in 0..<100 { queue.add(Bytes("old\(index)".utf8), at: UInt64(index)) }
            queue.compactIfNeeded(live: live.count) { rebuildOrder }
            XCTAssertEqual(queue.count, live.count, "the stale entries are gone")
            // Entries added after the compaction take their place among the others.
            queue.add(Bytes("y".utf8), at: 4)
            queue.add(Bytes("c".utf8), at: 5)
            let out = drain(&queue)
            XCTAssertEqual(out.map(\.0), [3, 4, 5, 5, 5, 5, 7, 7, 7])
            XCTAssertEqual(out.map(\.1), ["z", "y", "a", "b", "c", "d", "a", "b", "c"])
        }
    }

    func testNothingComesOutBeforeItsDeadline() {
        var queue = DeadlineQueue()
        queue.add(Bytes("a".utf8), at: 50)
        XCTAssertNil(queue.earliest(notAfter: 49))
        XCTAssertEqual(queue.earliest(notAfter: 50)?.at, 50)
    }

    func testNoCompactionWhileLiveEntriesAreMostOfTheHeap() {
        var queue = DeadlineQueue()
        for index in 0..<100 { queue.add(Bytes("k\(index)".utf8), at: UInt64(index)) }
        queue.compactIfNeeded(live: 60) {
            XCTFail("rebuilt"); return []
        }
        XCTAssertEqual(queue.count, 100)
    }
}
