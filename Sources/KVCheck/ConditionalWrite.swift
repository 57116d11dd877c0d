import KVProtocol

/// A transaction's put as the workload sends it: under a condition on the key, with an
/// optional deadline, followed by a get of the key so the answer shows what it left.
public struct ConditionalWrite: Hashable, Sendable {
    /// What must hold for the put to run (etcd's compare).
    public enum Condition: Hashable, Sendable {
        case always
        /// The key does not exist.
        case absent
        /// The key's revision is this one (0: the key does not exist).
        case revision(UInt64)
    }

    public var value: Bytes
    public var condition: Condition
    /// The earliest time, in the history's unit, at which the key may vanish by expiry;
    /// nil for no deadline. A client that asks for a time to live rather than a time
    /// gives the earliest the deadline can be (its invocation plus the time to live):
    /// the check then allows the key to vanish early, never forbids it to vanish late.
    public var deadline: UInt64?

    public init(_ value: Bytes, if condition: Condition = .always, deadline: UInt64? = nil) {
        self.value = value
        self.condition = condition
        self.deadline = deadline
    }
}
