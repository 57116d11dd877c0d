/// A lease etcd granted: keys attached to it are deleted when it expires or is revoked.
public struct EtcdLease: Sendable, Equatable {
    public var id: Int64
    /// The TTL etcd granted, which may be more than asked (etcd's minimum is about 2 s).
    public var ttlSeconds: Int64

    public init(id: Int64, ttlSeconds: Int64) {
        self.id = id
        self.ttlSeconds = ttlSeconds
    }
}
