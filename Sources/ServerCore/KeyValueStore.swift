import KVProtocol

/// The server's data: each key's value with its revision and deadline, the store's
/// revision counter, the keys in order for ranges, and the deadlines in order for the
/// primary's active expiry (docs/DESIGN.md §3.13).
///
/// It applies changes; it never decides one. What a request changes is decided by the
/// primary's `TxnExecution` and travels as a `StoreChange`, which the primary, its
/// backup, the log's replay and a transfer all apply the same way.
public struct KeyValueStore: Sendable {
    public private(set) var entries: [Bytes: StoredValue] = [:]
    /// The revision of the latest update that changed anything (etcd's header revision).
    public private(set) var revision: UInt64 = 0
    /// Bytes of keys and values.
    public private(set) var bytes = 0
    private var order = SortedKeys()
    private var deadlines = DeadlineQueue()
    /// Keys with a deadline.
    public private(set) var expiring = 0

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public subscript(key: Bytes) -> StoredValue? { entries[key] }

    /// The key's value alone, whatever its deadline (tests and checks).
    public func value(_ key: Bytes) -> Bytes? { entries[key]?.value }

    /// Every key's value alone (tests and checks).
    public var values: [Bytes: Bytes] { entries.mapValues(\.value) }

    /// The key's value unless it has expired by `now`.
    public func live(_ key: Bytes, at now: UInt64) -> StoredValue? {
        guard let stored = entries[key], !stored.isExpired(at: now) else { return nil }
        return stored
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
            guard var stored = entries[key] else { return }
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

    /// Sets the revision counter (a transfer's or a snapshot's), never lowering it.
    public mutating func advanceRevision(to revision: UInt64) {
        self.revision = max(self.revision, revision)
    }

    /// Puts an entry as it is, revision and deadline included (transfers, snapshots).
    public mutating func put(_ key: Bytes, _ stored: StoredValue) {
        let previous = entries.updateValue(stored, forKey: key)
        if let previous {
            bytes -= key.count + previous.value.count
            if previous.hasDeadline { expiring -= 1 }
        } else {
            order.insert(key)
        }
        bytes += key.count + stored.value.count
        if stored.hasDeadline {
            expiring += 1
            // An unchanged deadline (INCR, APPEND, a rewrite with KEEPTTL) is queued already.
            if previous?.expiresAt != stored.expiresAt { deadlines.add(key, at: stored.expiresAt) }
        }
    }

    public mutating func remove(_ key: Bytes) {
        guard let previous = entries.removeValue(forKey: key) else { return }
        bytes -= key.count + previous.value.count
        if previous.hasDeadline { expiring -= 1 }
        order.remove(key)
    }

    public mutating func removeAll() {
        entries.removeAll()
        order.removeAll()
        deadlines.removeAll()
        bytes = 0
        expiring = 0
    }

    /// Forgets everything, the revision counter included (a transfer's first chunk).
    public mutating func reset() {
        removeAll()
        revision = 0
    }

    /// Up to `limit` keys whose deadline is not after `now`, earliest first.
    public mutating func expired(at now: UInt64, limit: Int) -> [Bytes] {
        var keys: [Bytes] = []
        var seen = Set<Bytes>()
        while keys.count < limit, let (at, key) = deadlines.earliest(notAfter: now) {
            deadlines.removeEarliest()
            if entries[key]?.expiresAt == at, seen.insert(key).inserted { keys.append(key) }
        }
        let entries = entries
        deadlines.compactIfNeeded(live: expiring) {
            entries.compactMap { $0.value.hasDeadline ? ($0.value.expiresAt, $0.key) : nil }
        }
        return keys
    }

    /// Calls `body` with the keys from the first not below `start`, in byte order, until
    /// it returns false.
    public func forEachKey(from start: Bytes, _ body: (Bytes) -> Bool) {
        order.forEach(from: start, body)
    }

    /// Every key in byte order (tests and checks).
    public var keysInOrder: [Bytes] { order.all }

    /// An index that walks `entries` (a transfer's cursor): valid while the store does not
    /// change, which is why a primary defers updates during a transfer.
    public var startIndex: Dictionary<Bytes, StoredValue>.Index { entries.startIndex }
    public var endIndex: Dictionary<Bytes, StoredValue>.Index { entries.endIndex }
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
        lhs.entries == rhs.entries && lhs.revision == rhs.revision
    }
}
