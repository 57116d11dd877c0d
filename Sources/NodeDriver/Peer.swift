/// Whom a server's driver sends a request to.
public enum Peer: Hashable, Sendable {
    /// A monitor, by its address (the one of the configured monitors the server pings
    /// now: `MonitorRotation`).
    case monitor(String)
    /// Another server, by the address the monitor knows it by (the backup).
    case server(String)
}

/// Why a request to a peer got no answer (`ServerEnvironment.send`).
public enum PeerFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing accepts connections at the peer's address (refused, or no route to it):
    /// no process there can answer now.
    case unreachable(String)
    /// The peer may be there: no answer in time, the connection was lost, or the answer
    /// could not be used.
    case noAnswer(String)

    public var description: String {
        switch self {
        case .unreachable(let why), .noAnswer(let why): why
        }
    }
}
