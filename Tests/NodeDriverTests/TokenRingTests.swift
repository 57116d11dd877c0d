import KVProtocol
import NodeDriver
import XCTest

/// The driver's table of requesters by reply token: tokens issued in sequence, answers in
/// any order, holes skipped, the ring doubling only while half of it waits, and an old
/// request that waits long moved aside instead of stretching the ring.
final class TokenRingTests: XCTestCase {
    func testTokensAreSequentialAndAnswersInOrderKeepTheRingSmall() {
        var ring = TokenRing<Int>(firstToken: 1, capacity: 4)
        for round in 0..<100 {
            let token = ring.insert(round)
            XCTAssertEqual(token, UInt64(round + 1))
            XCTAssertEqual(ring.remove(token), round)
        }
        XCTAssertTrue(ring.isEmpty)
        XCTAssertEqual(ring.capacity, 4, "one waiting at a time never grows the ring")
        XCTAssertNil(ring.remove(5), "answered already")
        XCTAssertNil(ring.remove(1_000), "never issued")
    }

    func testAnswersOutOfOrderWrapAroundAndGrowTheRing() {
        var ring = TokenRing<UInt64>(capacity: 4)
        var model: [UInt64: UInt64] = [:]
        var generator = SplitMix64(seed: 7)
        for step in 0..<20_000 {
            // Mostly inserts early on, then a balance of both: the ring grows, wraps and
            // answers land in holes and at its head.
            if model.isEmpty || UInt64.random(in: 0..<100, using: &generator) < (step < 2_000 ? 70 : 50) {
                let token = ring.insert(UInt64(step))
                XCTAssertNil(model[token])
                model[token] = UInt64(step)
            } else {
                let token = model.keys.randomElement(using: &generator)!
                XCTAssertEqual(ring.remove(token), model.removeValue(forKey: token))
                XCTAssertNil(ring.remove(token), "only once")
            }
            XCTAssertEqual(ring.count, model.count)
        }
        XCTAssertGreaterThan(ring.capacity, 4)
        XCTAssertEqual(ring.removeAll(), model.sorted { $0.key < $1.key }.map(\.value))
        XCTAssertTrue(ring.isEmpty)
    }

    func testALongWaitingEntryMovesAsideInsteadOfGrowingTheRing() {
        var ring = TokenRing<String>(capacity: 8)
        let old = ring.insert("old")
        for index in 0..<10_000 {
            let token = ring.insert("new \(index)")
            XCTAssertEqual(ring.remove(token), "new \(index)")
        }
        XCTAssertEqual(ring.capacity, 8, "one waiting entry does not stretch the ring over every later token")
        XCTAssertEqual(ring.count, 1)
        let waiting = ring.insert("waiting")
        XCTAssertEqual(ring.removeAll(), ["old", "waiting"], "oldest first, the moved-aside entry included")
        XCTAssertNil(ring.remove(old))
        XCTAssertNil(ring.remove(waiting))
    }

    func testAMovedAsideEntryIsStillAnswered() {
        var ring = TokenRing<String>(capacity: 4)
        let old = ring.insert("old")
        for index in 0..<100 { _ = ring.remove(ring.insert("new \(index)")) }
        XCTAssertEqual(ring.remove(old), "old")
        XCTAssertTrue(ring.isEmpty)
    }
}
