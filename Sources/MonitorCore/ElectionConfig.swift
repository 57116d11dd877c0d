import KVProtocol

/// The timing of a monitor's leadership (docs/DESIGN.md §2.10). Every duration is in
/// nanoseconds of the monitor's own monotonic clock.
public struct ElectionConfig: Sendable {
    /// The address this monitor advertises: the leader key's value while it leads.
    public var address: String
    /// The lease asked of etcd; the leader key lives as long as it does.
    public var leaseTTL: UInt64
    /// Taken off every validity, for the drift between this clock and etcd's and for the
    /// time a request spends in etcd before its lease counts.
    public var validityMargin: UInt64
    /// Between keep-alives: a third of the lease, so two may fail before it runs out.
    public var keepAliveInterval: UInt64
    /// Between two reads of the keys by a follower whose watch may have died silently,
    /// and between campaigns while etcd does not answer.
    public var recheckInterval: UInt64
    /// The view read from a monitor's state file, offered to etcd when etcd has none or
    /// an older one (migration from a sole monitor).
    public var importedView: View?

    /// Timing derived from the lease: keep-alives every TTL/3, a margin of TTL/10 (at
    /// least 100 ms), a recheck every TTL.
    public init(address: String, leaseTTL: UInt64, importedView: View? = nil) {
        self.address = address
        self.leaseTTL = leaseTTL
        self.validityMargin = max(leaseTTL / 10, 100_000_000)
        self.keepAliveInterval = leaseTTL / 3
        self.recheckInterval = leaseTTL
        self.importedView = importedView
    }

    public var leaseSeconds: Int64 { Int64((leaseTTL + 999_999_999) / 1_000_000_000) }
}
