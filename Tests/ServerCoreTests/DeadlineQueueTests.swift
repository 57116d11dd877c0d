import KVProtocol
import XCTest

@testable import ServerCore

/// The primary's queue of deadlines: earliest first, and keys due at the same time in
/// one order after a compaction, whatever order the store's table (whose order depends on
/// the process's seed) gave them in.
final class DeadlineQueueTests: XCTestCase {
    private func drain(_ queue: inout DeadlineQueue) -> [(UInt64, String)] {
        var out: [(UInt64, String)] = []
        while let (at, key) = queue.earliest(notAfter: .max) {
            out.append((at, String(decoding: key, as: UTF8.self)))
            queue.removeEarliest()
        }
        return out
    }

    func testEntriesComeOutEarliestFirst() {
        var random = SystemRandomNumberGenerator()
        var queue = DeadlineQueue()
        var added: [UInt64] = []
        for index in 0..<500 {
            let at = UInt64.random(in: 0..<100, using: &random)
            added.append(at)
            queue.add(Bytes("k\(index)".utf8), at: at)
        }
        XCTAssertEqual(drain(&queue).map(\.0), added.sorted())
        XCTAssertNil(queue.earliest(notAfter: .max))
    }

    func testNothingComesOutBeforeItsDeadline() {
        var queue = DeadlineQueue()
        queue.add(Bytes("a".utf8), at: 50)
        XCTAssertNil(queue.earliest(notAfter: 49))
        XCTAssertEqual(queue.earliest(notAfter: 50)?.at, 50)
    }

    func testKeysDueTogetherComeOutInOneOrderWhateverOrderACompactionWasGivenThem() {
        let live: [(UInt64, Bytes)] = [
            (7, Bytes("c".utf8)), (5, Bytes("b".utf8)), (7, Bytes("a".utf8)), (5, Bytes("d".utf8)),
            (7, Bytes("b".utf8)), (3, Bytes("z".utf8)), (5, Bytes("a".utf8)),
        ]
        var orders: [[(UInt64, String)]] = []
        for rebuildOrder in [live, live.reversed(), live.shuffled(), live.shuffled()] {
            var queue = DeadlineQueue()
            // Stale entries (deadlines changed since), enough to call for a compaction.
            for index in 0..<100 { queue.add(Bytes("old\(index)".utf8), at: UInt64(index)) }
            queue.compactIfNeeded(live: live.count) { rebuildOrder }
            XCTAssertEqual(queue.count, live.count, "the stale entries are gone")
            // Entries added after the compaction still take their place.
            queue.add(Bytes("y".utf8), at: 4)
            orders.append(drain(&queue))
        }
        for order in orders {
            XCTAssertEqual(order.map(\.0), [3, 4, 5, 5, 5, 7, 7, 7])
            XCTAssertEqual(order.map(\.1), orders[0].map(\.1), "the same order from every rebuild")
        }
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
