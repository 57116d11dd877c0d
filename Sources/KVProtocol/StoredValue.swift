/// A key's value as the store keeps it. Its revision and deadline are part of the state
/// a primary replicates: they travel with the value in forwards, transfers, the log and
/// snapshots (docs/DESIGN.md §3.13).
public struct StoredValue: Equatable, Sendable {
    public var value: Bytes
    /// The store revision of the update that last changed this key (etcd's mod_revision).
    public var revision: UInt64
    /// Unix time in milliseconds from which the key is gone; `StoredValue.never` for none.
    public var expiresAt: UInt64

    public static let never: UInt64 = 0

    public init(value: Bytes, revision: UInt64, expiresAt: UInt64 = StoredValue.never) {
        self.value = value
        self.revision = revision
        self.expiresAt = expiresAt
    }

    public var hasDeadline: Bool { expiresAt != Self.never }

    /// Whether the key is gone at `now` (Unix milliseconds).
    @inlinable
    public func isExpired(at now: UInt64) -> Bool { expiresAt != 0 && expiresAt <= now }
}
