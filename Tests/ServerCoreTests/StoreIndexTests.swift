import KVProtocol
import XCTest

@testable import ServerCore

/// The store's key order and the text rules of its counters and patterns.
final class StoreIndexTests: XCTestCase {
    /// The search that skips the bytes a probe shares with both bounds finds what a
    /// plain binary search finds, over keys with long common prefixes, keys that are
    /// prefixes of others, and probes equal to a key, between keys and past either end.
    func testTheSearchPastSharedPrefixesFindsWhatAPlainSearchFinds() {
        var rng = SplitMix64(seed: 27)
        let prefixes = [
            "", "user:", "tenant:acme:user:", "tenant:acme:", "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}",
        ]
        func randomKey() -> Bytes {
            let prefix = Array(prefixes[Int(rng.below(prefixes.count))].utf8)
            // Low bytes share prefixes often; high ones catch a signed comparison.
            let alphabet: [UInt8] = [0, 1, 2, 0x7F, 0x80, 0xFF]
            return prefix + (0..<Int(rng.below(20))).map { _ in alphabet[Int(rng.below(alphabet.count))] }
        }
        for _ in 0..<300 {
            // The standard library's byte order is the oracle: it shares no code with the search.
            let keys = Array(Set((0..<Int(rng.below(60))).map { _ in randomKey() })).sorted {
                $0.lexicographicallyPrecedes($1)
            }
            for _ in 0..<40 {
                let probe = rng.below(3) == 0 && !keys.isEmpty ? keys[Int(rng.below(keys.count))] : randomKey()
                let plain = keys.firstIndex { !$0.lexicographicallyPrecedes(probe) } ?? keys.count
                let found = probe.withUnsafeBytes { raw in
                    keys.withUnsafeBufferPointer { SortedKeys.firstNotBelow(raw, in: $0) }
                }
                XCTAssertEqual(found, plain, "\(probe) in \(keys)")
            }
        }
    }

    func testTheKeyOrderFollowsInsertsAndRemovalsAtScale() {
        var rng = SplitMix64(seed: 11)
        var store = KeyValueStore()
        var reference = Set<Bytes>()
        for step in 0..<20_000 {
            let key = Bytes(utf8: String(rng.below(5_000)))
            if rng.below(3) == 0 {
                store.remove(key)
                reference.remove(key)
            } else {
                store.put(key, StoredValue(value: [UInt8(step & 0xFF)], revision: UInt64(step + 1)))
                reference.insert(key)
            }
        }
        XCTAssertEqual(store.keysInOrder, reference.sorted { ByteOrder.less($0, $1) })
        var from: [Bytes] = []
        store.forEachKey(from: b("25")) { key in
            from.append(key)
            return from.count < 3
        }
        XCTAssertEqual(
            from, Array(reference.filter { !ByteOrder.less($0, b("25")) }.sorted { ByteOrder.less($0, $1) }.prefix(3)))
    }

    /// Keys in order (a snapshot's, a transfer's) are appended to the last chunk; keys
    /// mixed in after them, below, between and above, still land in their places, and a
    /// snapshot lists the entries in that order.
    func testKeysAppendedInOrderThenMixedKeepTheOrder() {
        var rng = SplitMix64(seed: 12)
        var store = KeyValueStore()
        var reference = Set<Bytes>()
        func key(_ number: UInt64) -> Bytes { Bytes(utf8: "k" + String(String(number).reversed())) }
        let ordered = (0..<3_000).map { key($0) }.sorted { ByteOrder.less($0, $1) }
        for (step, key) in ordered.enumerated() where step % 3 != 0 {
            XCTAssertTrue(store.put(key, StoredValue(value: [1], revision: UInt64(step + 1))))
            reference.insert(key)
        }
        XCTAssertEqual(store.keysInOrder, reference.sorted { ByteOrder.less($0, $1) })
        for step in 0..<6_000 {
            let key = key(UInt64(rng.below(4_000)))
            if rng.below(4) == 0 {
                store.remove(key)
                reference.remove(key)
            } else {
                let new = store.put(key, StoredValue(value: [2], revision: UInt64(step + 10_000)))
                XCTAssertEqual(new, reference.insert(key).inserted)
            }
        }
        let expected = reference.sorted { ByteOrder.less($0, $1) }
        XCTAssertEqual(store.keysInOrder, expected)
        var listed: [Bytes] = []
        store.forEachEntry { key, _ in listed.append(key) }
        XCTAssertEqual(listed, expected)
    }

    /// Keys in order fill each chunk before the next starts: halving a full chunk at each
    /// overflow, as a key in the middle does, would leave them half empty.
    func testKeysInOrderFillTheirChunks() {
        var keys = SortedKeys()
        let ordered = (0..<(5 * SortedKeys.maxChunk + 1)).map { index in
            let digits = String(index)
            return Bytes(utf8: "k" + String(repeating: "0", count: 6 - digits.count) + digits)
        }
        for key in ordered { keys.insert(key) }
        XCTAssertEqual(keys.chunkCount, 6)
        XCTAssertEqual(keys.all, ordered)
    }

    func testDueKeysComeOutEarliestFirstOnceEach() {
        var store = KeyValueStore()
        for i in 0..<100 { store.put(b("k\(i)"), StoredValue(value: [], revision: 1, expiresAt: UInt64(1_000 + i))) }
        // A changed deadline leaves a stale entry behind, which must not come out.
        store.put(b("k0"), StoredValue(value: [], revision: 2, expiresAt: 5_000))
        store.put(b("k1"), StoredValue(value: [], revision: 2, expiresAt: 1_001))
        XCTAssertEqual(store.expired(at: 999, limit: 10), [])
        XCTAssertEqual(store.expired(at: 1_003, limit: 10), [b("k1"), b("k2"), b("k3")])
        XCTAssertEqual(store.expired(at: 1_050, limit: 5).count, 5)
        XCTAssertEqual(store.expiring, 100)
    }

    func testIntegerTextIsRedisCanonical() {
        XCTAssertEqual(NumberText.integer(b("0")), 0)
        XCTAssertEqual(NumberText.integer(b("-9223372036854775808")), .min)
        XCTAssertEqual(NumberText.integer(b("9223372036854775807")), .max)
        for bad in ["", "-", "-0", "01", "+1", " 1", "1 ", "9223372036854775808", "1e3", "0x10"] {
            XCTAssertNil(NumberText.integer(b(bad)), bad)
        }
    }

    func testFloatTextIsRedisHumanForm() {
        XCTAssertEqual(NumberText.text(10.5).utf8String, "10.5")
        XCTAssertEqual(NumberText.text(3).utf8String, "3")
        XCTAssertEqual(NumberText.text(-0.1).utf8String, "-0.1")
        XCTAssertEqual(NumberText.text(1e-7).utf8String, "0.0000001")
        XCTAssertEqual(NumberText.text(1.5e20).utf8String, "150000000000000000000")
        XCTAssertNil(NumberText.float(b("nan")))
        XCTAssertNil(NumberText.float(b("inf")))
        XCTAssertEqual(NumberText.float(b("5.0e3")), 5_000)
    }

    func testGlobPatternsMatchAsRedisDoes() {
        let cases: [(String, String, Bool)] = [
            ("*", "", true), ("h?llo", "hello", true), ("h?llo", "hllo", false), ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true), ("h[ae]llo", "hillo", false), ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false), ("h[a-b]llo", "hbllo", true), ("h[a-b]llo", "hcllo", false),
            ("h\\*llo", "h*llo", true), ("h\\*llo", "hello", false), ("user:*:name", "user:42:name", true),
            ("*a*b", "xaxxb", true), ("*a*b", "xaxx", false), ("a*", "a", true), ("*", "anything", true),
            ("?", "", false), ("[abc", "a", true), ("a\\", "a\\", true),
        ]
        for (pattern, string, matches) in cases {
            XCTAssertEqual(GlobPattern.matches(b(pattern), b(string)), matches, "\(pattern) ~ \(string)")
        }
        // Many stars against a long key that never matches: bounded work, not exponential.
        let hostile = b(String(repeating: "*a", count: 30) + "b")
        XCTAssertFalse(GlobPattern.matches(hostile, Bytes(repeating: UInt8(ascii: "a"), count: 60_000)))
    }
}
