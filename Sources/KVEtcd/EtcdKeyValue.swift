/// A key as etcd stores it, with the revisions that fencing compares against.
public struct EtcdKeyValue: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    /// The revision of the transaction that created the key (since its last deletion):
    /// the token of whoever created a leader key.
    public var createRevision: Int64
    /// The revision of the key's last change.
    public var modRevision: Int64
    /// How many times the key was written since it was created (1 after the creation).
    public var version: Int64
    /// The lease the key is attached to, or 0.
    public var lease: Int64

    public init(
        key: [UInt8], value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64 = 0
    ) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}
