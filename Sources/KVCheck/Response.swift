import KVProtocol

/// What a client observed when its call returned.
public enum Response: Hashable, Sendable {
    /// A get's answer: the value, or nil when the key was absent.
    case value(Bytes?)
    /// A put's acknowledgement.
    case stored
    /// A puthash's answer: the value before it (empty when the key was absent).
    case previous(Bytes)
    /// A delete's answer: whether the key existed.
    case existed(Bool)
    /// A read's answer (the key now) or a remove's (what it deleted); nil when absent.
    indirect case entry(VersionedValue?)
    /// A write's or an add's answer: whether it ran (the write's condition held; the add
    /// found an integer and did not overflow), and the key just after it.
    indirect case written(applied: Bool, after: VersionedValue?)
    /// A scan page's answer: the keys found, in key order, and where the next page starts
    /// (nil at the end).
    indirect case page([ScanItem], next: Bytes?)
}
