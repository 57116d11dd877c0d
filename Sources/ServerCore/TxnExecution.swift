import KVProtocol

/// Runs one transaction against the primary's store, deciding every change: the
/// compares, then each operation of the chosen branch in order, each seeing the ones
/// before it. It changes the store as it goes and records the changes, which the primary
/// then forwards and logs as one update (docs/DESIGN.md §3.13).
///
/// All changes of one transaction carry one revision, the store's next; a transaction
/// that changes nothing leaves the revision where it was.
///
/// It works on the primary's store in place (a copy would cost a copy of every part it
/// writes to, and of the sorted index's chunks), remembering what each key held before it first touched it, so that
/// `rollBack` can undo a transaction whose update turns out too large to forward.
struct TxnExecution {
    /// The store while `run` runs, moved in and out (never copied).
    private var store = KeyValueStore()
    let now: UInt64
    let revision: UInt64
    private let revisionBefore: UInt64
    private(set) var changes: [StoreChange] = []
    /// Keys a range passed over because their deadline had passed: the primary deletes
    /// them before the reply leaves, as it does the keys a request names.
    private(set) var expiredSeen: [Bytes] = []
    private var expiredSeenSet = Set<StoreKey>()
    /// Keys the transaction's ranges may still look at, all ranges together: one request's
    /// work on the loop is bounded whatever its number of ranges.
    private var rangeVisitsLeft: Int
    /// What each key held before the transaction first changed it, in order.
    private var undo: [(key: Bytes, value: StoredValue?)] = []
    private var touched = Set<StoreKey>()
    /// The whole store before a `deleteAll` (the table's storage, shared, not copied).
    private var beforeDeleteAll: KeyValueStore?

    init(revision: UInt64, now: UInt64, rangeVisits: Int = KeyRange.maxLimit) {
        self.rangeVisitsLeft = rangeVisits
        self.now = now
        self.revisionBefore = revision
        self.revision = revision + 1
    }

    /// The change to forward: nothing, one change, or several.
    var change: StoreChange {
        switch changes.count {
        case 0: .none
        case 1: changes[0]
        default: .several(changes)
        }
    }

    /// Runs `txn` on `store`, changing it in place.
    mutating func run(_ txn: Txn, on store: inout KeyValueStore) -> TxnOutcome {
        swap(&self.store, &store)
        defer { swap(&self.store, &store) }
        return run(txn)
    }

    /// Undoes everything `run` changed in `store`, the revision included.
    mutating func rollBack(_ store: inout KeyValueStore) {
        if let beforeDeleteAll { store = beforeDeleteAll }
        for (key, value) in undo.reversed() {
            if let value { store.put(key, value) } else { store.remove(key) }
        }
        store.rollBackRevision(to: revisionBefore)
        changes = []
    }

    private mutating func run(_ txn: Txn) -> TxnOutcome {
        let succeeded = txn.compares.allSatisfy(holds)
        var results: [TxnOpResult] = []
        for op in succeeded ? txn.success : txn.failure { results.append(run(op)) }
        return TxnOutcome(
            succeeded: succeeded, results: results, revision: changes.isEmpty ? store.revision : revision, now: now)
    }

    private func holds(_ compare: Compare) -> Bool {
        let stored = store.live(compare.key, at: now)
        switch compare.target {
        case .exists:
            // Existence is equal or not; less and greater hold for nothing.
            switch compare.relation {
            case .equal: return stored != nil
            case .notEqual: return stored == nil
            case .less, .greater: return false
            }
        case .revision(let wanted):
            return Self.relate(stored?.revision ?? 0, wanted, compare.relation)
        case .value(let wanted):
            guard let stored else { return false }
            return Self.relate(stored.value, wanted, compare.relation)
        }
    }

    private static func relate(_ a: UInt64, _ b: UInt64, _ relation: Compare.Relation) -> Bool {
        switch relation {
        case .equal: a == b
        case .notEqual: a != b
        case .less: a < b
        case .greater: a > b
        }
    }

    private static func relate(_ a: Bytes, _ b: Bytes, _ relation: Compare.Relation) -> Bool {
        switch relation {
        case .equal: a == b
        case .notEqual: a != b
        case .less: ByteOrder.less(a, b)
        case .greater: ByteOrder.less(b, a)
        }
    }

    private mutating func record(_ change: StoreChange) {
        // After a deleteAll the store before it holds everything to restore.
        if beforeDeleteAll == nil {
            switch change {
            case .put(let key, _), .setDeadline(let key, _, _), .delete(let key):
                if touched.insert(StoreKey(key)).inserted { undo.append((key, store[key])) }
            case .deleteAll:
                beforeDeleteAll = store
            case .none, .several:
                break
            }
        }
        store.apply(change, revision: revision)
        changes.append(change)
    }

    private mutating func put(_ key: Bytes, _ value: Bytes, expiresAt: UInt64) {
        // A deadline already past: the key is set and gone at once, as in Redis.
        if expiresAt != StoredValue.never && expiresAt <= now {
            if store[key] != nil { record(.delete(key)) }
            return
        }
        record(.put(key, StoredValue(value: value, revision: revision, expiresAt: expiresAt)))
    }

    private func deadline(_ expiry: Expiry, keeping previous: StoredValue?) -> UInt64 {
        switch expiry {
        case .keep: previous?.expiresAt ?? StoredValue.never
        case .never: StoredValue.never
        case .at(let time): max(time, 1)
        case .after(let millis): millis > UInt64.max - now ? UInt64.max : now + millis
        }
    }

    private mutating func run(_ op: TxnOp) -> TxnOpResult {
        switch op {
        case .get(let key):
            return .value(store.live(key, at: now))
        case .put(let key, let value, let expiry, let returnPrevious):
            let previous = store.live(key, at: now)
            put(key, value, expiresAt: deadline(expiry, keeping: previous))
            return returnPrevious ? .value(previous) : .done
        case .delete(let key):
            let previous = store.live(key, at: now)
            if store[key] != nil { record(.delete(key)) }
            return .value(previous)
        case .add(let key, let amount):
            let previous = store.live(key, at: now)
            guard let current = previous.map({ NumberText.integer($0.value) }) ?? 0 else {
                return .error(.notInteger)
            }
            let (sum, overflow) = current.addingReportingOverflow(amount)
            guard !overflow else { return .error(.overflow) }
            put(key, Bytes(utf8: String(sum)), expiresAt: previous?.expiresAt ?? StoredValue.never)
            return .integer(sum)
        case .addFloat(let key, let amount):
            let previous = store.live(key, at: now)
            guard let current = previous.map({ NumberText.float($0.value) }) ?? 0 else { return .error(.notFloat) }
            let sum = current + amount
            guard sum.isFinite, amount.isFinite else { return .error(.notFinite) }
            let text = NumberText.text(sum)
            put(key, text, expiresAt: previous?.expiresAt ?? StoredValue.never)
            return .bytes(text)
        case .append(let key, let suffix):
            let previous = store.live(key, at: now)
            let length = (previous?.value.count ?? 0) + suffix.count
            guard length <= Limits.maxValueSize else { return .error(.tooLarge) }
            put(key, (previous?.value ?? []) + suffix, expiresAt: previous?.expiresAt ?? StoredValue.never)
            return .integer(Int64(length))
        case .expire(let key, let expiry, let condition):
            return .integer(expire(key, expiry, condition) ? 1 : 0)
        case .rename(let from, let to, let onlyIfAbsent):
            guard let moving = store.live(from, at: now) else { return .error(.noSuchKey) }
            if onlyIfAbsent && store.live(to, at: now) != nil { return .integer(0) }
            guard from != to else { return .integer(onlyIfAbsent ? 0 : 1) }
            record(.delete(from))
            put(to, moving.value, expiresAt: moving.expiresAt)
            return .integer(1)
        case .range(let range):
            return self.range(range)
        case .deleteAll:
            let count = store.count
            if count > 0 { record(.deleteAll) }
            return .integer(Int64(count))
        case .txn(let inner):
            let outcome = run(inner)
            return .txn(outcome)
        }
    }

    /// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT and PERSIST: whether the deadline changed.
    private mutating func expire(_ key: Bytes, _ expiry: Expiry, _ condition: ExpireCondition) -> Bool {
        guard let stored = store.live(key, at: now) else { return false }
        let current = stored.expiresAt
        let wanted = deadline(expiry, keeping: stored)
        if case .never = expiry {
            guard current != StoredValue.never else { return false }
            record(.setDeadline(key, expiresAt: StoredValue.never, revision: revision))
            return true
        }
        if case .keep = expiry { return false }
        // No deadline counts as infinitely far, as in Redis.
        let permitted: Bool
        switch condition {
        case .always: permitted = true
        case .ifNone: permitted = current == StoredValue.never
        case .ifSome: permitted = current != StoredValue.never
        case .ifLater: permitted = current != StoredValue.never && wanted > current
        case .ifEarlier: permitted = current == StoredValue.never || wanted < current
        case .ifSomeAndEarlier: permitted = current != StoredValue.never && wanted < current
        }
        guard permitted else { return false }
        if wanted <= now {
            record(.delete(key))
        } else {
            record(.setDeadline(key, expiresAt: wanted, revision: revision))
        }
        return true
    }

    /// Walks at most `limit` keys from the range's start, skipping expired ones and those
    /// the pattern does not match; `next` is where the walk stopped, nil at the end.
    static let maxRangeBytes = Limits.maxValueSize

    private mutating func range(_ range: KeyRange) -> TxnOpResult {
        var items: [RangeItem] = []
        var expired: [Bytes] = []
        var visited = 0
        var bytes = 0
        var next: Bytes?
        let start = ByteOrder.less(range.start, range.prefix) ? range.prefix : range.start
        let limit = min(max(range.limit, 1), rangeVisitsLeft)
        store.forEachKey(from: start) { key in
            guard key.starts(with: range.prefix) else { return false }
            // The reply, and the deletions of the expired keys it passes over, must fit
            // in a frame, however large the keys and values.
            guard visited < limit, bytes < Self.maxRangeBytes else {
                next = key
                return false
            }
            visited += 1
            guard let stored = store.live(key, at: now) else {
                expired.append(key)
                bytes += key.count
                return true
            }
            if let pattern = range.pattern, !GlobPattern.matches(pattern, key) { return true }
            items.append(RangeItem(key: key, value: range.keysOnly ? nil : stored))
            bytes += key.count + (range.keysOnly ? 0 : stored.value.count)
            return true
        }
        rangeVisitsLeft -= visited
        for key in expired where expiredSeenSet.insert(StoreKey(key)).inserted { expiredSeen.append(key) }
        return .range(items, next: next)
    }
}
