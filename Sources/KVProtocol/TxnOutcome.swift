/// What a transaction did: which branch ran and each operation's result.
public struct TxnOutcome: Equatable, Sendable {
    /// Whether every compare held (the success branch ran).
    public var succeeded: Bool
    public var results: [TxnOpResult]
    /// The store's revision after the transaction.
    public var revision: UInt64
    /// The primary's clock when it applied the transaction (Unix milliseconds), so a
    /// client can turn deadlines into time left.
    public var now: UInt64

    public init(succeeded: Bool, results: [TxnOpResult], revision: UInt64, now: UInt64) {
        self.succeeded = succeeded
        self.results = results
        self.revision = revision
        self.now = now
    }
}

/// The result of one operation of a transaction.
public enum TxnOpResult: Equatable, Sendable {
    /// Nothing to report.
    case done
    /// A key's value, revision and deadline; nil when the key is missing.
    case value(StoredValue?)
    case integer(Int64)
    case bytes(Bytes)
    /// The keys found, in key order, and the key to start the next range from (nil when
    /// none is left).
    case range([RangeItem], next: Bytes?)
    /// The operation could not run; it changed nothing. The others still ran.
    case error(TxnError)
    case txn(TxnOutcome)
}

public struct RangeItem: Equatable, Sendable {
    public var key: Bytes
    /// Nil when the range asked for keys only.
    public var value: StoredValue?

    public init(key: Bytes, value: StoredValue?) {
        self.key = key
        self.value = value
    }
}

/// Why one operation of a transaction did not run. The descriptions are Redis's error
/// texts, so the Redis endpoint can pass them on as they are.
public enum TxnError: UInt8, Error, Sendable, CaseIterable, CustomStringConvertible {
    case notInteger = 1
    case overflow = 2
    case notFloat = 3
    case notFinite = 4
    case noSuchKey = 5
    case tooLarge = 6

    public var description: String {
        switch self {
        case .notInteger: "value is not an integer or out of range"
        case .overflow: "increment or decrement would overflow"
        case .notFloat: "value is not a valid float"
        case .notFinite: "increment would produce NaN or Infinity"
        case .noSuchKey: "no such key"
        case .tooLarge: "string exceeds maximum allowed size"
        }
    }
}
