import KVProtocol

/// What a client asked the service to do to one key, with its input.
public enum Call: Hashable, Sendable {
    case get
    case put(value: Bytes)
    /// Stores `PutHash.newValue(previous:argument:)` and answers the previous value.
    case putHash(argument: Bytes)
    case delete
    /// A transaction's get: the value with its revision.
    case read
    /// A transaction's conditional put, then a get of the key.
    indirect case write(ConditionalWrite)
    /// A transaction's add (INCRBY) of `delta` to the value read as a decimal integer
    /// (a missing key counts as 0, its deadline kept), then a get of the key.
    indirect case add(delta: Int64)
    /// A transaction's delete: answers what it deleted.
    case remove
    /// One page of a scan: a transaction's range over the keys that begin with `prefix`,
    /// from `start`, looking at `limit` keys at most. The operation's key is the prefix;
    /// the page is a read of every key it covers (`ScanPages`).
    indirect case range(prefix: Bytes, start: Bytes, limit: Int)

    /// The name used in explanations and in history files.
    public var name: String {
        switch self {
        case .get: "get"
        case .put: "put"
        case .putHash: "puthash"
        case .delete: "delete"
        case .read: "read"
        case .write: "write"
        case .add: "add"
        case .remove: "remove"
        case .range: "range"
        }
    }

    /// Whether `response` is the kind of answer this call gets (a get's value, a delete's flag, ...).
    public func accepts(_ response: Response) -> Bool {
        switch (self, response) {
        case (.get, .value), (.put, .stored), (.putHash, .previous), (.delete, .existed), (.read, .entry),
            (.write, .written), (.add, .written), (.remove, .entry), (.range, .page):
            true
        default: false
        }
    }

    /// Whether the call may change the key: what a session's acknowledged updates count.
    public var mayWrite: Bool {
        switch self {
        case .get, .read, .range: false
        case .put, .putHash, .delete, .write, .add, .remove: true
        }
    }
}
