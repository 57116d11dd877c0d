import KVProtocol

/// The keys with deadlines, earliest first, for the primary's active expiry: a binary
/// min-heap of (deadline, key), keys due at the same time in byte order, so that the order
/// does not depend on the order they came in (a transfer's or a snapshot's, in the store's
/// table order, which the process's hash seed decides): expiries, and which of them a
/// limit leaves for the next tick, are the same in every process (a simulation replays the
/// same anywhere). A key whose deadline changed leaves its old entry behind;
/// the entry is recognised as stale when it comes up (the store's deadline differs) and
/// the heap is rebuilt when stale entries outnumber live ones.
struct DeadlineQueue: Sendable {
    private typealias Entry = (at: UInt64, key: Bytes)
    private var heap: [Entry] = []

    var count: Int { heap.count }

    mutating func add(_ key: Bytes, at deadline: UInt64) {
        heap.append((deadline, key))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// The earliest entry, if its deadline is not after `now`.
    func earliest(notAfter now: UInt64) -> (at: UInt64, key: Bytes)? {
        guard let first = heap.first, first.at <= now else { return nil }
        return first
    }

    mutating func removeEarliest() {
        guard !heap.isEmpty else { return }
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, Self.precedes(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, Self.precedes(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    mutating func removeAll() { heap = [] }

    /// Whether `a` comes out before `b`.
    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        a.at != b.at ? a.at < b.at : a.key.lexicographicallyPrecedes(b.key)
    }

    /// Rebuilds from the live deadlines when the heap holds more than twice as many
    /// entries (and some slack): repeated TTL refreshes cannot grow it without bound.
    /// Sorted in the heap's order, which a sorted array keeps already.
    mutating func compactIfNeeded(live: Int, rebuild: () -> [(UInt64, Bytes)]) {
        guard heap.count > 64, heap.count > 2 * live else { return }
        heap = rebuild().map { (at: $0.0, key: $0.1) }.sorted(by: Self.precedes)
    }
}
