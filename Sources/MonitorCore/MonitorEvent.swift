import KVProtocol

/// What happened inside the monitor, for the runtime to log and report.
public enum MonitorEvent: Equatable, Sendable {
    /// A new view was stored and is now handed out.
    case viewChanged(from: View, to: View, reason: ViewChangeReason)
    /// The primary acknowledged the current view.
    case viewAcknowledged(View)
    /// A new view could not be stored; the old one stays in force.
    case persistFailed(wanted: View, error: String)
    /// A server pinged for the first time (since the monitor started).
    case serverJoined(address: String)
    /// A server missed `deadPings` pings.
    case serverDied(address: String)
    /// The primary or backup pinged with view number 0: it restarted and lost its state.
    case serverRestarted(address: String, role: ServerInfo.Role)
}

public enum ViewChangeReason: String, Sendable {
    case firstPrimary = "first primary"
    case primaryFailed = "primary failed, backup promoted"
    case backupFailed = "backup failed, replaced"
    case backupAdded = "idle server became backup"
}
