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
}
