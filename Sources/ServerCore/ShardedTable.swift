/// The store's hash table, in `partCount` dictionaries that grow one at a time
/// (docs/PERFORMANCE.md, "Table growth").
///
/// A Swift dictionary grows by moving every entry into a table twice the size, in one
/// call: at millions of keys that held a primary's or a backup's event loop for long
/// enough to miss its pings, and the monitor replaced a healthy server. Here a growth
/// moves one part's entries, a `partCount`th of the table. Redis avoids the stall by
/// rehashing incrementally; parts get the same bound with Swift's own dictionaries. The
/// parts fill evenly, so left alone they would all double within a few per cent of the
/// fill of one another; each doubles at a fill of its own instead (`growEarlyIfDue`).
///
/// A key's part comes from a cheap mix of all its bytes (`StoreKey.part(bits:seed:)`), not
/// from its `hashValue`: the part's dictionary hashes the key anyway, and a second full
/// hash on every access would cost more than the mix. The parts are allocated at the
/// first insert, so an empty table (a transaction's scratch store) allocates nothing.
struct ShardedTable<Value: Sendable>: Sendable {
    private static var partBits: Int { 6 }
    static var partCount: Int { 1 << partBits }

    /// Empty until the first insert, then `partCount` dictionaries.
    private var parts: [[StoreKey: Value]] = []
    private(set) var count = 0
    /// Counts the changes: an index taken before a change is refused, as a dictionary
    /// refuses one taken before a growth or a removal, but after any change (a state
    /// transfer's cursor over a store that changed under it would send a state that never
    /// was, which no growth need reveal).
    private(set) var changes: UInt64 = 0
    /// The process's `partSeed`, kept here: read at every access, a global's would be
    /// checked for its one-time initialisation each time.
    private let seed = partSeed

    init() {}

    var isEmpty: Bool { count == 0 }

    subscript(key: StoreKey) -> Value? {
        parts.isEmpty ? nil : parts[key.part(bits: Self.partBits, seed: seed)][key]
    }

    /// Sets `key`'s value; the value it replaced, if any.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey key: StoreKey) -> Value? {
        if parts.isEmpty { parts = Array(repeating: [:], count: Self.partCount) }
        changes &+= 1
        let part = key.part(bits: Self.partBits, seed: seed)
        let previous = parts[part].updateValue(value, forKey: key)
        if previous == nil {
            count += 1
            growEarlyIfDue(part)
        }
        return previous
    }

    /// Grows part `part` before its dictionary would, at a fill that depends on the part.
    ///
    /// The parts fill evenly, so left to themselves they all double within about 6 % of the
    /// fill of one another (the binomial spread of their sizes): at a million keys, a
    /// backup applying a transfer doubled about ten parts in each of a few chunks' steps,
    /// and under contention such a step held its loop past the monitor's patience. Here
    /// part `p` doubles once it holds `(4 + p / partCount) / 5` of what its dictionary holds
    /// before growing on its own (between 80 % and 100 % of it), so the doublings of one
    /// size spread over the last fifth of the fill, about three parts per chunk of 7,600
    /// keys at a million; the price is a table about a tenth emptier on average.
    @inline(__always)
    private mutating func growEarlyIfDue(_ part: Int) {
        let capacity = parts[part].capacity
        guard parts[part].count * 5 * Self.partCount >= capacity * (4 * Self.partCount + part) else { return }
        parts[part].reserveCapacity(capacity + 1)
    }

    /// Sizes each part for its share of `total` entries as its own growth would have
    /// sized it, so that loading that many (a recovery's snapshot) moves no entry on the
    /// way; a part dealt more than its share grows as usual.
    mutating func reserveCapacity(_ total: Int) {
        if parts.isEmpty { parts = Array(repeating: [:], count: Self.partCount) }
        let share = total / Self.partCount
        guard share > 0 else { return }
        for part in parts.indices {
            // The least capacity at which `growEarlyIfDue` leaves a part of `share` entries be.
            parts[part].reserveCapacity(share * 5 * Self.partCount / (4 * Self.partCount + part) + 1)
        }
    }

    /// Removes `key`; its value, if it was there.
    @discardableResult
    mutating func removeValue(forKey key: StoreKey) -> Value? {
        guard !parts.isEmpty else { return nil }
        let previous = parts[key.part(bits: Self.partBits, seed: seed)].removeValue(forKey: key)
        if previous != nil {
            count -= 1
            changes &+= 1
        }
        return previous
    }

    mutating func removeAll() {
        // The storage of a large table goes now, not at the next growth.
        parts = []
        count = 0
        changes &+= 1
    }

    /// The entries of the largest part (tests: the bound on a growth's work).
    var largestPart: Int { parts.lazy.map(\.count).max() ?? 0 }

    /// The part `key` goes to, and that part's capacity (tests: when the parts grow).
    func part(holding key: StoreKey) -> (index: Int, capacity: Int) {
        let part = key.part(bits: Self.partBits, seed: seed)
        return (part, parts.isEmpty ? 0 : parts[part].capacity)
    }
}

extension ShardedTable: Collection {
    /// A part, and a position in it; `endIndex` is past the last part. Valid only while
    /// the table has not changed since it was taken.
    struct Index: Comparable, Sendable {
        fileprivate var part: Int
        fileprivate var position: Dictionary<StoreKey, Value>.Index?
        fileprivate var changes: UInt64

        static func < (lhs: Index, rhs: Index) -> Bool {
            guard lhs.part == rhs.part else { return lhs.part < rhs.part }
            guard let left = lhs.position, let right = rhs.position else { return false }
            return left < right
        }
    }

    var startIndex: Index { firstIndex(fromPart: 0) }
    var endIndex: Index { Index(part: Self.partCount, position: nil, changes: changes) }

    func index(after index: Index) -> Index {
        precondition(index.changes == changes, "a table index used after the table changed")
        let next = parts[index.part].index(after: index.position!)
        guard next == parts[index.part].endIndex else {
            return Index(part: index.part, position: next, changes: changes)
        }
        return firstIndex(fromPart: index.part + 1)
    }

    subscript(index: Index) -> (key: StoreKey, value: Value) {
        precondition(index.changes == changes, "a table index used after the table changed")
        return parts[index.part][index.position!]
    }

    /// The first entry of the first part from `part` on that has one, or `endIndex`.
    private func firstIndex(fromPart part: Int) -> Index {
        var part = part
        while part < parts.count, parts[part].isEmpty { part += 1 }
        return part < parts.count ? Index(part: part, position: parts[part].startIndex, changes: changes) : endIndex
    }
}

extension ShardedTable: Equatable where Value: Equatable {
    /// Equal entries (within one process, a key is always in the same part; an emptied
    /// table keeps its parts, a fresh one has none).
    static func == (lhs: ShardedTable, rhs: ShardedTable) -> Bool {
        lhs.count == rhs.count && (lhs.count == 0 || lhs.parts == rhs.parts)
    }
}

/// Seeds the parts' mix once per process, from `Hasher` (so, like the dictionaries' own
/// hashing, it is fixed under SWIFT_DETERMINISTIC_HASHING).
private let partSeed: UInt64 = {
    var hasher = Hasher()
    hasher.combine(0x6B76_7061_7274)
    return UInt64(UInt(bitPattern: hasher.finalize()))
}()

extension StoreKey {
    /// Which of `1 << bits` parts the key goes to: a mix of its bytes, eight at a time,
    /// whose top bits depend on every byte (keys that differ only in the middle, as
    /// `tenant:a:user:17:profile`, spread as well as any).
    ///
    /// Each word is folded in by a full 128-bit product of (state ^ word ^ seed), its two
    /// halves xored (wyhash's step). A plain multiply-xor would not do: keys are binary
    /// and clients choose them, and a truncated product carries a flip of a word's top
    /// bit through unchanged, whatever the seed, so the next word can flip it back and a
    /// client could fill one part with as many keys as it likes. Here a difference goes
    /// through carries that depend on the seed, which never leaves the process. At worst
    /// every key shares one part, as in one dictionary.
    @inline(__always)
    func part(bits: Int, seed: UInt64) -> Int {
        bytes.withUnsafeBytes { raw in
            let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
            @inline(__always) func fold(_ state: UInt64, _ word: UInt64) -> UInt64 {
                let product = (state ^ word ^ seed).multipliedFullWidth(by: multiplier)
                return product.high ^ product.low
            }
            // Not seeded here: every fold xors the seed in, and two would cancel.
            var mix = UInt64(raw.count)
            var at = 0
            while at + 8 <= raw.count {
                mix = fold(mix, raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                at += 8
            }
            var tail: UInt64 = 0
            while at < raw.count {
                tail = tail << 8 | UInt64(raw[at])
                at += 1
            }
            mix = fold(mix, tail)
            return Int(truncatingIfNeeded: mix >> UInt64(64 - bits))
        }
    }
}
