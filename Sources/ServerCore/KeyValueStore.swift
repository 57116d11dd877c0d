import KVProtocol

/// The server's data: each key's value with its revision and deadline, the store's
/// revision counter, the keys in order for ranges, and the deadlines in order for the
/// primary's active expiry (docs/DESIGN.md §3.13).
///
/// It applies changes; it never decides one. What a request changes is decided by the
/// primary's `TxnExecution` and travels as a `StoreChange`, which the primary, its
/// backup, the log's replay and a transfer all apply the same way.
///
/// Deadlines are kept apart from values, as Redis keeps its `expires` table: most keys
/// have none, and a deadline beside every value would cost each key 8 bytes more in the
/// table's buckets (docs/PERFORMANCE.md, memory per key).
public struct KeyValueStore: Sendable {
    /// A value and its revision: what the hash table holds per key.
    struct Slot: Equatable, Sendable {
        var value: Bytes
        var revision: UInt64
    }

    /// Keyed by `StoreKey`: a key hashed in one call, not byte by byte (plus the cheap
    /// mix that picks its part). In parts that grow one at a time: no growth holds the
    /// event loop for the whole table.
    private var slots = ShardedTable<Slot>()
    private var deadlineOf = ShardedTable<UInt64>()
    /// The revision of the latest update that changed anything (etcd's header revision).
    public private(set) var revision: UInt64 = 0
    /// Bytes of keys and values.
    public private(set) var bytes = 0
    private var order = SortedKeys()
    private var deadlines = DeadlineQueue()

    public init() {}

    public var count: Int { slots.count }
    public var isEmpty: Bool { slots.isEmpty }
    /// Keys with a deadline.
    public var expiring: Int { deadlineOf.count }

    public subscript(key: Bytes) -> StoredValue? {
        guard let slot = slots[StoreKey(key)] else { return nil }
        return StoredValue(value: slot.value, revision: slot.revision, expiresAt: deadline(of: key))
    }

    /// The key's value alone, whatever its deadline (tests and checks).
    public func value(_ key: Bytes) -> Bytes? { slots[StoreKey(key)]?.value }

    /// Every key's value alone (tests and checks).
    public var values: [Bytes: Bytes] {
        Dictionary(uniqueKeysWithValues: slots.lazy.map { ($0.key.bytes, $0.value.value) })
    }

    private func deadline(of key: Bytes) -> UInt64 {
        deadlineOf.isEmpty ? StoredValue.never : deadlineOf[StoreKey(key)] ?? StoredValue.never
    }

    /// The key's value unless it has expired by `now`.
    public func live(_ key: Bytes, at now: UInt64) -> StoredValue? {
        guard let stored = self[key], !stored.isExpired(at: now) else { return nil }
        return stored
    }

    /// The key's value alone unless it has expired by `now`: what a GET reads, without
    /// building a `StoredValue` around it.
    public func liveValue(_ key: Bytes, at now: UInt64) -> Bytes? {
        guard let slot = slots[StoreKey(key)], !isExpired(key, at: now) else { return nil }
        return slot.value
    }

    /// `liveValue` with the revision of the key's last update, in one probe.
    public func liveValueAndRevision(_ key: Bytes, at now: UInt64) -> (value: Bytes, revision: UInt64)? {
        guard let slot = slots[StoreKey(key)], !isExpired(key, at: now) else { return nil }
        return (slot.value, slot.revision)
    }

    public func contains(_ key: Bytes) -> Bool { slots[StoreKey(key)] != nil }

    /// The revision of the key's last update, if the store holds it.
    public func revision(of key: Bytes) -> UInt64? { slots[StoreKey(key)]?.revision }

    /// Whether the key is held and its deadline has come by `now`. Only keys the store
    /// holds have a deadline, and most stores have none to look up.
    public func isExpired(_ key: Bytes, at now: UInt64) -> Bool {
        guard !deadlineOf.isEmpty, let deadline = deadlineOf[StoreKey(key)] else { return false }
        return deadline <= now
    }

    /// Applies one update's change; `revision` becomes the store's revision when the
    /// change is not `.none`. Revision 0 (an update from a 0.1 primary) takes the next.
    public mutating func apply(_ change: StoreChange, revision updateRevision: UInt64) {
        if case .none = change { return }
        let revision = updateRevision == 0 ? self.revision + 1 : updateRevision
        apply(change, numbered: revision)
        self.revision = max(self.revision, revision)
    }

    private mutating func apply(_ change: StoreChange, numbered revision: UInt64) {
        switch change {
        case .none:
            break
        case .put(let key, var stored):
            if stored.revision == 0 { stored.revision = revision }
            put(key, stored)
        case .setDeadline(let key, let expiresAt, let keyRevision):
            guard var stored = self[key] else { return }
            stored.expiresAt = expiresAt
            stored.revision = keyRevision == 0 ? revision : keyRevision
            put(key, stored)
        case .delete(let key):
            remove(key)
        case .deleteAll:
            removeAll()
        case .several(let changes):
            for change in changes { apply(change, numbered: revision) }
        }
    }

    /// Puts the counter back where it was before a transaction that was undone.
    mutating func rollBackRevision(to revision: UInt64) {
        self.revision = revision
    }

    /// Sets the revision counter (a transfer's or a snapshot's), never lowering it.
    public mutating func advanceRevision(to revision: UInt64) {
        self.revision = max(self.revision, revision)
    }

    /// Makes room for `count` keys at once (a snapshot's, whose header says how many).
    public mutating func reserveCapacity(_ count: Int) {
        slots.reserveCapacity(count)
    }

    /// Puts an entry as it is, revision and deadline included (transfers, snapshots).
    ///
    /// One probe of the table finds the key's slot or makes it; the sorted index is
    /// consulted only for a key that was not there. Returns whether the key is new.
    @discardableResult
    public mutating func put(_ key: Bytes, _ stored: StoredValue) -> Bool {
        let tableKey = StoreKey(key)
        let previous = slots.updateValue(Slot(value: stored.value, revision: stored.revision), forKey: tableKey)
        if let previous {
            bytes -= key.count + previous.value.count
        } else {
            order.insert(key)
        }
        bytes += key.count + stored.value.count
        if stored.hasDeadline {
            // An unchanged deadline (INCR, APPEND, a rewrite with KEEPTTL) is queued already.
            if deadlineOf.updateValue(stored.expiresAt, forKey: tableKey) != stored.expiresAt {
                deadlines.add(key, at: stored.expiresAt)
            }
        } else if !deadlineOf.isEmpty {
            deadlineOf.removeValue(forKey: tableKey)
            forgetDeadlinesIfNoneLeft()
        }
        return previous == nil
    }

    /// The queue's stale entries go when no key has a deadline any more (they would stay
    /// until the next deadline otherwise, with their keys' bytes).
    private mutating func forgetDeadlinesIfNoneLeft() {
        if deadlineOf.isEmpty && deadlines.count > 0 { deadlines.removeAll() }
    }

    public mutating func remove(_ key: Bytes) {
        let tableKey = StoreKey(key)
        guard let previous = slots.removeValue(forKey: tableKey) else { return }
        bytes -= key.count + previous.value.count
        if !deadlineOf.isEmpty {
            deadlineOf.removeValue(forKey: tableKey)
            forgetDeadlinesIfNoneLeft()
        }
        order.remove(key)
    }

    public mutating func removeAll() {
        slots.removeAll()
        deadlineOf.removeAll()
        order.removeAll()
        deadlines.removeAll()
        bytes = 0
    }

    /// Forgets everything, the revision counter included (a transfer's first chunk).
    public mutating func reset() {
        removeAll()
        revision = 0
    }

    /// Up to `limit` keys, and about `maxBytes` of them, whose deadline is not after `now`,
    /// earliest first.
    public mutating func expired(at now: UInt64, limit: Int, maxBytes: Int = 1 << 20) -> [Bytes] {
        var keys: [Bytes] = []
        var seen = Set<StoreKey>()
        var bytes = 0
        while keys.count < limit, bytes < maxBytes, let (at, key) = deadlines.earliest(notAfter: now) {
            deadlines.removeEarliest()
            if deadlineOf[StoreKey(key)] == at, seen.insert(StoreKey(key)).inserted {
                keys.append(key)
                bytes += key.count
            }
        }
        let live = deadlineOf
        deadlines.compactIfNeeded(live: live.count) { live.map { ($0.value, $0.key.bytes) } }
        return keys
    }

    /// Calls `body` with the keys from the first not below `start`, in byte order, until
    /// it returns false.
    public func forEachKey(from start: Bytes, _ body: (Bytes) -> Bool) {
        order.forEach(from: start, body)
    }

    /// Every key in byte order (tests and checks).
    public var keysInOrder: [Bytes] { order.all }

    /// A position in the keys' byte order (a transfer's cursor): valid while the store does
    /// not change, which is why a primary defers updates during a transfer. A transfer walks
    /// the keys in byte order, not in the hash table's, so that what it sends does not
    /// depend on the process's hash seed: a simulated schedule sends the same chunks in
    /// every process (docs/SIMULATION.md).
    public struct Index: Equatable, Sendable {
        fileprivate var position: SortedKeys.Position
        fileprivate var changes: UInt64
    }

    public var startIndex: Index { Index(position: order.startPosition, changes: slots.changes) }
    public var endIndex: Index { Index(position: order.endPosition, changes: slots.changes) }

    public func index(after index: Index) -> Index {
        precondition(index.changes == slots.changes, "a store index used after the store changed")
        return Index(position: order.position(after: index.position), changes: index.changes)
    }

    public func entry(at index: Index) -> (key: Bytes, value: StoredValue) {
        precondition(index.changes == slots.changes, "a store index used after the store changed")
        let key = order[index.position]
        let slot = slots[StoreKey(key)]!
        return (key, StoredValue(value: slot.value, revision: slot.revision, expiresAt: deadline(of: key)))
    }

    /// Calls `body` with every entry, in byte order (snapshots): a recovery's search for
    /// each key's place in its index then reads the same few keys each time, and fills
    /// the chunks (searches for keys in the hash table's order reached keys all over the
    /// heap, a third of a recovery's time); and the same state writes the same bytes.
    public func forEachEntry(_ body: (Bytes, StoredValue) throws -> Void) rethrows {
        var position = order.startPosition
        while position != order.endPosition {
            let key = order[position]
            guard let slot = slots[StoreKey(key)] else {
                preconditionFailure("the key order holds a key the table lacks")
            }
            try body(key, StoredValue(value: slot.value, revision: slot.revision, expiresAt: deadline(of: key)))
            position = order.position(after: position)
        }
    }

    /// Every entry as a dictionary (tests and checks; it copies the whole store).
    public var entries: [Bytes: StoredValue] {
        var all: [Bytes: StoredValue] = [:]
        all.reserveCapacity(count)
        forEachEntry { all[$0] = $1 }
        return all
    }
}

extension KeyValueStore {
    /// How this store and `other` differ, key by key, for a checker's report: empty when
    /// they are equal.
    public func differences(from other: KeyValueStore, this: String, other otherName: String) -> [String] {
        let keys = Set(entries.keys).union(other.entries.keys).sorted { ByteOrder.less($0, $1) }
        var found = keys.filter { self[$0] != other[$0] }.map { key in
            "\(key.utf8String): \(this) \(self[key].map { "\($0)" } ?? "absent"), "
                + "\(otherName) \(other[key].map { "\($0)" } ?? "absent")"
        }
        if revision != other.revision {
            found.append("revision: \(this) \(revision), \(otherName) \(other.revision)")
        }
        return found
    }
}

extension KeyValueStore: ExpressibleByDictionaryLiteral {
    /// A store of these values without deadlines, all of revision 1 (tests).
    public init(values: [Bytes: Bytes]) {
        self.init()
        for (key, value) in values { put(key, StoredValue(value: value, revision: 1)) }
        if !values.isEmpty { revision = 1 }
    }

    public init(dictionaryLiteral elements: (Bytes, Bytes)...) {
        self.init(values: Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}

extension KeyValueStore: Equatable {
    public static func == (lhs: KeyValueStore, rhs: KeyValueStore) -> Bool {
        lhs.slots == rhs.slots && lhs.deadlineOf == rhs.deadlineOf && lhs.revision == rhs.revision
    }
}
