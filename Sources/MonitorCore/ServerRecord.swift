/// What the monitor remembers about one server that has pinged it.
struct ServerRecord: Sendable {
    /// The tick count at its last ping.
    var lastPingTick: UInt64
    /// The injected clock at its last ping, for reporting ages only.
    var lastPingMillis: UInt64
    /// The view number of its last ping.
    var viewnum: UInt64
    /// It pinged with 0 while holding a role: it restarted and its state is gone. Cleared
    /// once it no longer holds that role.
    var restarted: Bool
    /// Whether the monitor has already reported it dead (to log the death once).
    var reportedDead: Bool
}
