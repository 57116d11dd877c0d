import KVProtocol

/// What the monitor remembers about one server that has pinged it.
struct ServerRecord: Sendable {
    /// The tick count at its last ping.
    var lastPingTick: UInt64
    /// The injected clock at its last ping, for reporting ages only.
    var lastPingMillis: UInt64
    /// The view number of its last ping.
    var viewnum: UInt64
    /// It pinged with 0 while holding a role: it restarted and its state is gone. Cleared
    /// once the view that replaces it (possibly by itself, as a fresh backup) is saved;
    /// until then its pings are answered with no view.
    var restarted: Bool
    /// Whether the monitor has already reported it dead (to log the death once).
    var reportedDead: Bool
    /// Its last ping said it is shutting down: it is handed no role, and one it holds is
    /// passed on as soon as that is safe. Every ping restates it, so a restarted server
    /// (which pings without it) is a candidate again at once.
    var leaving = false
    /// It pinged since this monitor started. A record restored from the saved view has
    /// not: that it is alive is a grace period, not evidence.
    var pingedSinceStart = true
    /// The process start its last ping came from (0: unknown, a server that predates them).
    var incarnation: UInt64 = 0
    /// What its last ping said it recovered from its data directory.
    var claim: StateClaim?
}
