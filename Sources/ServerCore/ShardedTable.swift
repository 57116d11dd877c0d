/// The store's hash table, in `partCount` dictionaries that grow one at a time
/// (docs/PERFORMANCE.md, "Table growth").
///
/// A Swift dictionary grows by moving every entry into a table twice the size, in one
/// call: at millions of keys that held a primary's or a backup's event loop for long
/// enough to miss its pings, and the monitor replaced a healthy server. Here a growth
/// moves one part's entries, a `partCount`th of the table. Redis avoids the stall by
/// rehashing incrementally; parts get the same bound with Swift's own dictionaries.
///
/// A key's part is chosen by the high bits of its hash; each part's dictionary picks
/// buckets by the low ones, so the parts fill evenly and stay evenly loaded inside.
struct ShardedTable<Value: Sendable>: Sendable {
    static var partCount: Int { 64 }
    private static var partBits: Int { 6 }

    private var parts: [[StoreKey: Value]]
    private(set) var count = 0

    init() {
        parts = Array(repeating: [:], count: Self.partCount)
    }

    @inline(__always)
    private static func part(of key: StoreKey) -> Int {
        Int(truncatingIfNeeded: UInt(bitPattern: key.hashValue) >> UInt(UInt.bitWidth - partBits))
    }

    var isEmpty: Bool { count == 0 }

    subscript(key: StoreKey) -> Value? {
        parts[Self.part(of: key)][key]
    }

    /// Sets `key`'s value; the value it replaced, if any.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey key: StoreKey) -> Value? {
        let previous = parts[Self.part(of: key)].updateValue(value, forKey: key)
        if previous == nil { count += 1 }
        return previous
    }

    /// Removes `key`; its value, if it was there.
    @discardableResult
    mutating func removeValue(forKey key: StoreKey) -> Value? {
        let previous = parts[Self.part(of: key)].removeValue(forKey: key)
        if previous != nil { count -= 1 }
        return previous
    }

    mutating func removeAll() {
        // Fresh dictionaries: the storage of a large table goes now, not at the next growth.
        for part in parts.indices { parts[part] = [:] }
        count = 0
    }

    /// The entries of the largest part (tests: the bound on a growth's work).
    var largestPart: Int { parts.lazy.map(\.count).max() ?? 0 }
}

extension ShardedTable: Collection {
    /// A part, and a position in it; `endIndex` is past the last part.
    struct Index: Comparable, Sendable {
        fileprivate var part: Int
        fileprivate var position: Dictionary<StoreKey, Value>.Index?

        static func < (lhs: Index, rhs: Index) -> Bool {
            guard lhs.part == rhs.part else { return lhs.part < rhs.part }
            guard let left = lhs.position, let right = rhs.position else { return false }
            return left < right
        }
    }

    var startIndex: Index { firstIndex(fromPart: 0) }
    var endIndex: Index { Index(part: Self.partCount, position: nil) }

    func index(after index: Index) -> Index {
        let next = parts[index.part].index(after: index.position!)
        guard next == parts[index.part].endIndex else { return Index(part: index.part, position: next) }
        return firstIndex(fromPart: index.part + 1)
    }

    subscript(index: Index) -> (key: StoreKey, value: Value) {
        parts[index.part][index.position!]
    }

    /// The first entry of the first part from `part` on that has one, or `endIndex`.
    private func firstIndex(fromPart part: Int) -> Index {
        var part = part
        while part < Self.partCount, parts[part].isEmpty { part += 1 }
        return part < Self.partCount ? Index(part: part, position: parts[part].startIndex) : endIndex
    }
}

extension ShardedTable: Equatable where Value: Equatable {
    /// Equal entries (within one process, a key is always in the same part).
    static func == (lhs: ShardedTable, rhs: ShardedTable) -> Bool {
        lhs.count == rhs.count && lhs.parts == rhs.parts
    }
}
