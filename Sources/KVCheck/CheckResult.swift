import KVProtocol

/// The verdict on a whole history.
public enum CheckResult: Equatable, Sendable, CustomStringConvertible {
    /// Every key's operations can be put in one order that respects real time and the
    /// sequential semantics of a key/value store.
    case linearizable
    /// No such order exists for `key`; `explanation` shows where every attempt ends.
    case notLinearizable(key: Bytes, explanation: String)
    /// The search on `key` used up its step budget without a verdict (and no other key
    /// failed outright).
    case timedOut(key: Bytes)
    /// The history itself is inconsistent (a return before its invocation, a response of
    /// the wrong kind): nothing was checked.
    case invalidHistory(String)

    public var description: String {
        switch self {
        case .linearizable: "linearizable"
        case .notLinearizable(_, let explanation): explanation
        case .timedOut(let key): "key \(ValueText.show(key)): search budget exhausted, no verdict"
        case .invalidHistory(let reason): "invalid history: \(reason)"
        }
    }
}
