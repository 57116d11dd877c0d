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

    func testAWalkOfAFewKeysSkipsTheEmptyParts() {
        for size in 0...12 {
            var table = ShardedTable<Int>()
            for index in 0..<size { table.updateValue(index, forKey: key(index)) }
            var visited: [Int] = []
            var index = table.startIndex
            while index != table.endIndex {
                XCTAssertLessThan(index, table.endIndex)
                visited.append(table[index].value)
                let next = table.index(after: index)
                XCTAssertLessThan(index, next)
                index = next
            }
            XCTAssertEqual(visited.sorted(), Array(0..<size), "\(size) keys")
            XCTAssertEqual(table == ShardedTable<Int>(), size == 0)
            for index in 0..<size { table.removeValue(forKey: key(index)) }
            XCTAssertEqual(table, ShardedTable<Int>(), "emptied, it equals a fresh table")
            XCTAssertEqual(table.startIndex, table.endIndex)
        }
    }

    func testNoPartHoldsMuchMoreThanItsShare() {
        let keys = 200_000
        let share = keys / ShardedTable<Int>.partCount
        // Keys that differ at the end, only in the middle, or are short and binary.
        let shapes: [(String, (Int) -> StoreKey)] = [
            ("user:N", key),
            ("tenant:acme:user:N:profile", { StoreKey(Array("tenant:acme:user:\($0):profile".utf8)) }),
            ("4 bytes", { StoreKey(withUnsafeBytes(of: UInt32($0).bigEndian) { Array($0) }) }),
        ]
        for (shape, makeKey) in shapes {
            var table = ShardedTable<Int>()
            for index in 0..<keys { table.updateValue(index, forKey: makeKey(index)) }
            // Binomial spread around 3,125 keys a part: a standard deviation of about 55.
            XCTAssertLessThan(table.largestPart, share + share / 8, "\(shape): a growth moves far more than a share")
            XCTAssertEqual(table.count, keys)
        }
    }

    /// The parts fill evenly, so left to themselves they would all double within about 6 %
    /// of the fill of one another (the binomial spread of the parts' sizes): at a million
    /// keys, a backup taking a transfer doubled about ten parts in a chunk's step. Each
    /// part doubles at a fill of its own, so the doublings of one size spread over the last
    /// fifth of the fill.
    func testThePartsDoubleOneSizeOverAFifthOfTheFill() {
        var table = ShardedTable<Int>()
        let parts = ShardedTable<Int>.partCount
        // Swift's dictionaries hold 3 × 2^k entries before they double; the doubling past
        // 3,072 comes at about 3,000 entries a part.
        let doubled = 6_144
        var doubledAt: [Int: Int] = [:]
        var inserted = 0
        while doubledAt.count < parts, inserted < 400_000 {
            let key = key(inserted)
            table.updateValue(inserted, forKey: key)
            inserted += 1
            let (part, capacity) = table.part(holding: key)
            if capacity >= doubled, doubledAt[part] == nil { doubledAt[part] = inserted }
        }
        XCTAssertEqual(doubledAt.count, parts, "every part doubled")
        let first = doubledAt.values.min() ?? 0
        let last = doubledAt.values.max() ?? 0
        XCTAssertGreaterThan(
            Double(last - first), 0.15 * Double(last),
            "the doublings came between inserts \(first) and \(last): all at once")
    }

    /// A recovery reserves room for its snapshot's keys: loading them then grows no part,
    /// and the parts end no larger than growing one key at a time makes them.
    func testAReservedTableTakesItsKeysWithoutGrowingAndNoLargerThanGrowth() {
        for total in [1_000, 50_000, 200_000] {
            var reserved = ShardedTable<Int>()
            reserved.reserveCapacity(total)
            var grown = ShardedTable<Int>()
            var reservedCapacity: [Int: Int] = [:]  // by part, before the load
            for index in 0..<total {
                let (part, capacity) = reserved.part(holding: key(index))
                reservedCapacity[part] = capacity
            }
            for index in 0..<total {
                reserved.updateValue(index, forKey: key(index))
                grown.updateValue(index, forKey: key(index))
            }
            var loadedCapacity: [Int: Int] = [:]  // by part, after it
            var grownCapacity: [Int: Int] = [:]
            for index in 0..<total {
                let part = reserved.part(holding: key(index))
                loadedCapacity[part.index] = part.capacity
                grownCapacity[part.index] = grown.part(holding: key(index)).capacity
            }
            let grewAnyway = loadedCapacity.filter { $0.value != reservedCapacity[$0.key] }.count
            // A part dealt well over its share may grow once; few are (of 64, with no
            // reservation every one grows).
            XCTAssertLessThanOrEqual(grewAnyway, ShardedTable<Int>.partCount / 8, "\(total) keys: parts grew anyway")
            // A part dealt fewer keys than its share may have stayed a size smaller when
            // grown one key at a time; a tenth more in all allows for those few.
            let reservedSum = loadedCapacity.values.reduce(0, +)
            let grownSum = grownCapacity.values.reduce(0, +)
            XCTAssertLessThanOrEqual(
                Double(reservedSum), 1.1 * Double(grownSum),
                "\(total) keys: reserved \(reservedSum) slots, growth made \(grownSum)")
        }
    }

    /// Keys a client builds to share a part: 24 words, each pair of words either as
    /// given or with bit 63 of the first and bits 31 and 63 of the second flipped. A
    /// multiply-xor mix of truncated products sends all 4,096 of them to one part
    /// whatever its seed (each pair's flips cancel); they must spread as any keys do.
    func testKeysBuiltToCollideSpreadAsOthers() {
        let base = (0..<192).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) & 0x7F }
        var table = ShardedTable<Int>()
        for index in 0..<4096 {
            var bytes = base
            for pair in 0..<12 where index >> pair & 1 == 1 {
                bytes[16 * pair + 7] ^= 0x80
                bytes[16 * pair + 11] ^= 0x80
                bytes[16 * pair + 15] ^= 0x80
            }
            table.updateValue(index, forKey: StoreKey(bytes))
        }
        XCTAssertEqual(table.count, 4096)
        // 64 keys a part on average, a standard deviation of about 8.
        XCTAssertLessThan(table.largestPart, 2 * 4096 / ShardedTable<Int>.partCount)
    }

    /// Tables holding the same entries are equal whatever brought them there: other
    /// insertion orders, growths, removals.
    func testTablesWithTheSameEntriesButOtherHistoriesAreEqual() {
        var grown = ShardedTable<Int>()
        for index in 0..<5_000 { grown.updateValue(-index, forKey: key(index)) }
        for index in 1_000..<5_000 { grown.removeValue(forKey: key(index)) }
        for index in 0..<1_000 { grown.updateValue(index, forKey: key(index)) }
        var direct = ShardedTable<Int>()
        for index in (0..<1_000).reversed() { direct.updateValue(index, forKey: key(index)) }
        XCTAssertEqual(grown, direct)
        direct.updateValue(0, forKey: key(1))
        XCTAssertNotEqual(grown, direct, "one value differs")
    }
}
