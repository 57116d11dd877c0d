import KVProtocol
import XCTest

@testable import ServerCore

/// The store's table key: equal exactly when the bytes are, and equal keys hash alike.
final class StoreKeyTests: XCTestCase {
    func testEqualityFollowsTheBytesAndEqualKeysHashAlike() {
        var rng = SplitMix64(seed: 16)
        for _ in 0..<5_000 {
            let count = Int(rng.below(40))
            let bytes = (0..<count).map { _ in UInt8(rng.below(4)) }
            // Same bytes in separate storage, and the same storage.
            let copy = Array(bytes[...])
            XCTAssertEqual(StoreKey(bytes), StoreKey(copy))
            XCTAssertEqual(StoreKey(bytes).hashValue, StoreKey(copy).hashValue)
            XCTAssertEqual(StoreKey(bytes), StoreKey(bytes))
            // A change in any one byte, or in the length, is another key.
            if count > 0 {
                var changed = bytes
                let at = Int(rng.below(count))
                changed[at] &+= 1
                XCTAssertNotEqual(StoreKey(bytes), StoreKey(changed))
                XCTAssertNotEqual(StoreKey(bytes), StoreKey(Array(bytes.dropLast())))
            }
            XCTAssertNotEqual(StoreKey(bytes), StoreKey(bytes + [0]))
            let other = (0..<Int(rng.below(40))).map { _ in UInt8(rng.below(4)) }
            XCTAssertEqual(StoreKey(bytes) == StoreKey(other), bytes == other)
        }
    }

    func testATableOfStoreKeysHoldsWhatATableOfArraysDoes() {
        var rng = SplitMix64(seed: 61)
        var table: [StoreKey: Int] = [:]
        var reference: [Bytes: Int] = [:]
        for step in 0..<20_000 {
            let key = (0..<Int(rng.below(20))).map { _ in UInt8(rng.below(3)) }
            if rng.below(4) == 0 {
                XCTAssertEqual(table.removeValue(forKey: StoreKey(key)), reference.removeValue(forKey: key))
            } else {
                XCTAssertEqual(table.updateValue(step, forKey: StoreKey(key)), reference.updateValue(step, forKey: key))
            }
        }
        XCTAssertEqual(table.count, reference.count)
        for (key, value) in reference { XCTAssertEqual(table[StoreKey(key)], value) }
    }
}
