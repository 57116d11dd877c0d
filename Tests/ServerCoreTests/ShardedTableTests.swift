import KVProtocol
import XCTest

@testable import ServerCore

/// The store's table in parts (docs/PERFORMANCE.md, "Table growth"): it behaves as one
/// dictionary, and no part holds much more than its share, so no growth moves much more
/// than a part's share of the keys.
final class ShardedTableTests: XCTestCase {
    private func key(_ index: Int) -> StoreKey { StoreKey(Array("user:\(index)".utf8)) }

    func testItHoldsWhatADictionaryHoldsThroughRandomChanges() {
        var rng = SplitMix64(seed: 64)
        var table = ShardedTable<Int>()
        var model: [StoreKey: Int] = [:]
        for step in 0..<20_000 {
            let key = key(Int(rng.below(3_000)))
            if rng.below(3) == 0 {
                XCTAssertEqual(table.removeValue(forKey: key), model.removeValue(forKey: key))
            } else {
                XCTAssertEqual(table.updateValue(step, forKey: key), model.updateValue(step, forKey: key))
            }
            XCTAssertEqual(table[key], model[key])
            XCTAssertEqual(table.count, model.count)
        }
        // Walking its indices visits every entry once (empty parts skipped).
        var seen: [StoreKey: Int] = [:]
        var index = table.startIndex
        while index != table.endIndex {
            let (key, value) = table[index]
            XCTAssertNil(seen.updateValue(value, forKey: key), "visited twice")
            index = table.index(after: index)
        }
        XCTAssertEqual(seen.count, model.count, "entries visited")
        XCTAssertTrue(seen == model, "the entries visited are not the table's")
        XCTAssertTrue(Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0.value) }) == model, "iteration")

        var copy = table
        XCTAssertEqual(copy, table)
        copy.updateValue(-1, forKey: key(0))
        XCTAssertNotEqual(copy, table)
        copy.removeAll()
        XCTAssertTrue(copy.isEmpty)
        XCTAssertEqual(copy.startIndex, copy.endIndex)
        XCTAssertEqual(copy.map(\.value), [])
    }

    func testNoPartHoldsMuchMoreThanItsShare() {
        var table = ShardedTable<Int>()
        let keys = 200_000
        for index in 0..<keys { table.updateValue(index, forKey: key(index)) }
        let share = keys / ShardedTable<Int>.partCount
        // Binomial spread around 3,125 keys a part: a standard deviation of about 55.
        XCTAssertLessThan(table.largestPart, share + share / 8, "a growth moves far more than a part's share")
        XCTAssertEqual(table.count, keys)
    }
}
