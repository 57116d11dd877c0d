import KVProtocol

/// What a client asked the service to do to one key, with its input.
public enum Call: Hashable, Sendable {
    case get
    case put(value: Bytes)
    /// Stores `PutHash.newValue(previous:argument:)` and answers the previous value.
    case putHash(argument: Bytes)
    case delete

    /// The name used in explanations and in history files.
    public var name: String {
        switch self {
        case .get: "get"
        case .put: "put"
        case .putHash: "puthash"
        case .delete: "delete"
        }
    }

    /// Whether `response` is the kind of answer this call gets (a get's value, a delete's flag, ...).
    public func accepts(_ response: Response) -> Bool {
        switch (self, response) {
        case (.get, .value), (.put, .stored), (.putHash, .previous), (.delete, .existed): true
        default: false
        }
    }
}
