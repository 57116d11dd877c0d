/// One operation of a transaction's success or failure branch.
public enum EtcdOperation: Sendable, Equatable {
    /// Writes the key, attached to `lease` (0: no lease).
    case put(key: [UInt8], value: [UInt8], lease: Int64 = 0)
    /// Reads one key.
    case get(key: [UInt8])
    /// Reads every key that starts with the given bytes, in key order.
    case getPrefix([UInt8])
    /// Deletes one key.
    case delete(key: [UInt8])
}

/// What one operation of a transaction's branch returned, in the branch's order.
public enum EtcdOperationResult: Sendable, Equatable {
    case put
    /// The keys read (none when absent).
    case get([EtcdKeyValue])
    /// How many keys were deleted (0 or 1 for `delete(key:)`).
    case delete(deleted: Int64)
}

/// A transaction's outcome.
public struct EtcdTxnResult: Sendable, Equatable {
    /// Whether every comparison held, so that the success branch ran.
    public var succeeded: Bool
    /// The store's revision after the transaction (the answer header's revision): a put of
    /// a successful transaction got this revision as its mod revision.
    public var revision: Int64
    /// The results of the branch that ran.
    public var results: [EtcdOperationResult]

    public init(succeeded: Bool, revision: Int64, results: [EtcdOperationResult]) {
        self.succeeded = succeeded
        self.revision = revision
        self.results = results
    }
}
