/// An atomic transaction, as etcd's Txn: if every compare holds, the `success`
/// operations run in order, otherwise the `failure` ones. The primary applies it as one
/// update (one revision), forwards it as one and answers it once (docs/DESIGN.md §3.13).
/// Every conditional write, MULTI/EXEC and WATCH is one of these.
public struct Txn: Equatable, Sendable {
    public var compares: [Compare]
    public var success: [TxnOp]
    public var failure: [TxnOp]

    public init(compares: [Compare] = [], success: [TxnOp], failure: [TxnOp] = []) {
        self.compares = compares
        self.success = success
        self.failure = failure
    }

    /// How deeply transactions may nest (a SET NX inside MULTI is a transaction inside
    /// one): deeper ones are refused, so a hostile frame cannot exhaust the stack.
    public static let maxDepth = 4
    /// Compares and operations in one transaction, nested ones included.
    public static let maxItems = 10_000

    /// Every key the transaction may read or write (a range's keys aside), each once.
    public var keys: [Bytes] {
        var keys: [Bytes] = []
        collectKeys(into: &keys)
        var seen = Set<Bytes>()
        return keys.filter { seen.insert($0).inserted }
    }

    private func collectKeys(into keys: inout [Bytes]) {
        for compare in compares { keys.append(compare.key) }
        for op in success + failure {
            switch op {
            case .get(let key), .delete(let key), .put(let key, _, _, _), .add(let key, _), .addFloat(let key, _),
                .append(let key, _), .expire(let key, _, _):
                keys.append(key)
            case .rename(let from, let to, _):
                keys.append(from)
                keys.append(to)
            case .txn(let inner):
                inner.collectKeys(into: &keys)
            case .range, .deleteAll:
                break
            }
        }
    }
}

/// One condition of a transaction, on one key.
public struct Compare: Equatable, Sendable {
    public enum Target: Equatable, Sendable {
        /// The key's value; a missing key fails every value compare (as in etcd).
        case value(Bytes)
        /// The key's revision; a missing key has revision 0.
        case revision(UInt64)
        /// Whether the key exists: `.equal` holds if it does, `.notEqual` if it does not.
        case exists
    }

    public enum Relation: UInt8, Sendable, CaseIterable {
        case equal = 0
        case notEqual = 1
        case less = 2
        case greater = 3
    }

    public var key: Bytes
    public var target: Target
    public var relation: Relation

    public init(key: Bytes, _ target: Target, _ relation: Relation) {
        self.key = key
        self.target = target
        self.relation = relation
    }

    public static func exists(_ key: Bytes) -> Compare { Compare(key: key, .exists, .equal) }
    public static func absent(_ key: Bytes) -> Compare { Compare(key: key, .exists, .notEqual) }
}

/// How an operation changes a key's deadline.
public enum Expiry: Equatable, Sendable {
    /// Leave it as it is (SET KEEPTTL, APPEND, INCR).
    case keep
    /// Remove it (SET without options, PERSIST).
    case never
    /// At this Unix time in milliseconds (EXAT, PXAT, EXPIREAT).
    case at(UInt64)
    /// This many milliseconds after the primary applies it (EX, PX, EXPIRE).
    case after(UInt64)
}

/// When EXPIRE changes a deadline (Redis 7's NX, XX, GT, LT; no deadline counts as
/// infinitely far for GT and LT).
public enum ExpireCondition: UInt8, Sendable, CaseIterable {
    case always = 0
    case ifNone = 1
    case ifSome = 2
    case ifLater = 3
    case ifEarlier = 4
    /// XX and LT together: a deadline to shorten (LT alone also sets one where none is).
    case ifSomeAndEarlier = 5
}

/// A bounded walk over the key space in key order, from `start`.
public struct KeyRange: Equatable, Sendable {
    /// The first key to look at (inclusive); empty for the beginning.
    public var start: Bytes
    /// Only keys beginning with these bytes.
    public var prefix: Bytes
    /// Only keys matching this glob pattern (Redis's MATCH syntax).
    public var pattern: Bytes?
    /// How many keys to look at, at most (matching or not): the bound on one call's work.
    public var limit: Int
    /// Return keys only, not values.
    public var keysOnly: Bool

    public init(start: Bytes = [], prefix: Bytes = [], pattern: Bytes? = nil, limit: Int, keysOnly: Bool = false) {
        self.start = start
        self.prefix = prefix
        self.pattern = pattern
        self.limit = limit
        self.keysOnly = keysOnly
    }

    /// The most keys one range may look at.
    public static let maxLimit = 100_000
}

/// One operation of a transaction. Each one's result is in `TxnOutcome.results`, at
/// the same position.
public enum TxnOp: Equatable, Sendable {
    /// Result: `.value` (nil when missing).
    case get(Bytes)
    /// Result: `.value` with the previous value when `returnPrevious`, else `.done`.
    case put(Bytes, value: Bytes, expiry: Expiry, returnPrevious: Bool)
    /// Result: `.value` with what was deleted (nil when missing).
    case delete(Bytes)
    /// Adds to the key's value read as a decimal 64-bit integer (missing: 0), keeping its
    /// deadline. Result: `.integer` with the new value, or `.error`.
    case add(Bytes, Int64)
    /// The same for a decimal floating point value. Result: `.bytes` with the new value.
    case addFloat(Bytes, Double)
    /// Result: `.integer` with the value's new length.
    case append(Bytes, Bytes)
    /// Sets or removes a deadline. A deadline not after the present deletes the key.
    /// Result: `.integer` 1 when changed, 0 when the key is missing or the condition failed.
    case expire(Bytes, Expiry, ExpireCondition)
    /// Moves a value and its deadline to another key. Result: `.integer` 1 (0 when
    /// `onlyIfAbsent` and the target exists), or `.error(.noSuchKey)`.
    case rename(Bytes, to: Bytes, onlyIfAbsent: Bool)
    /// Result: `.range`.
    case range(KeyRange)
    /// Deletes every key. Result: `.integer` with how many there were.
    case deleteAll
    /// Result: `.txn`.
    case txn(Txn)

    /// Whether running it can change the store.
    public var mayWrite: Bool {
        switch self {
        case .get, .range: false
        case .txn(let inner): (inner.success + inner.failure).contains { $0.mayWrite }
        default: true
        }
    }
}
