/// The monitor's timing. Liveness is counted in ticks: a server is dead once it has
/// missed `deadPings` pings, that is at the `deadPings + 1`-th tick after its last ping, so a monitor that was paused does not
/// declare everyone dead when it wakes up.
public struct MonitorConfig: Sendable {
    /// How many pings a server may miss: it is dead at the `deadPings + 1`-th tick without one.
    public var deadPings: UInt64

    /// Ticks after which a dead server holding no role is forgotten (3000: five minutes
    /// at 100 ms), so the list of servers cannot grow without bound.
    public var forgetAfterTicks: UInt64

    /// The cluster id this monitor gives the view it makes when none is named yet (view 1
    /// of a new cluster, or the next view after one saved without an id): the driver draws
    /// it at random at each start. 0 leaves views unnamed.
    public var newClusterID: UInt64

    public init(deadPings: UInt64 = 5, forgetAfterTicks: UInt64 = 3000, newClusterID: UInt64 = 0) {
        precondition(deadPings >= 1, "deadPings must be at least 1")
        self.deadPings = deadPings
        self.forgetAfterTicks = max(forgetAfterTicks, deadPings + 1)
        self.newClusterID = newClusterID
    }
}
