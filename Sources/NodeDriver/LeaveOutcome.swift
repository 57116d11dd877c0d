import KVProtocol

/// How a server's graceful leave ended.
public enum LeaveOutcome: Sendable, Equatable {
    /// The monitor's view no longer gives this server a role.
    case relieved(View)
    /// Primary of a view without a backup: nobody can take over its data.
    case nobodyToTakeOver(View)
    /// Nothing accepted a connection at any monitor's address (`reason` says the last
    /// failure): no monitor runs to relieve it.
    case monitorUnreachable(View, reason: String)
    /// The monitor did not relieve it in time (unreachable, or the view could not change
    /// safely), or the server stopped first.
    case timedOut(View)
}
