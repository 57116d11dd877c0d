/// Whom a server's driver sends a request to.
public enum Peer: Hashable, Sendable {
    /// A monitor, by its address (the one of the configured monitors the server pings
    /// now: `MonitorRotation`).
    case monitor(String)
    /// Another server, by the address the monitor knows it by (the backup).
    case server(String)
}
