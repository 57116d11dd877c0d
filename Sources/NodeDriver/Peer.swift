/// Whom a server's driver sends a request to.
public enum Peer: Hashable, Sendable {
    /// The monitor the server pings.
    case monitor
    /// Another server, by the address the monitor knows it by (the backup).
    case server(String)
}
