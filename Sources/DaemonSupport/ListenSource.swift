import KVSystemd
import KVTransport

/// Where a daemon accepts connections: the socket systemd passed (socket activation),
/// else `--listen`.
public enum ListenSource {
    /// The name a socket unit gives the protocol socket (`FileDescriptorName=`), needed
    /// only when several sockets are passed.
    public static let protocolSocketName = "kvservice"

    /// The name a socket unit gives the Prometheus metrics socket (`FileDescriptorName=`).
    public static let metricsSocketName = "metrics"

    public static func resolve(listen: PeerAddress) throws -> (source: FrameListener.Source, description: String) {
        let passed = try PassedSockets.fromEnvironment()
        if let socket = try PassedSockets.protocolSocket(named: protocolSocketName, in: passed) {
            return (.inherited(fd: socket.fd), "socket passed by systemd (fd \(socket.fd), \"\(socket.name)\")")
        }
        return (.bind(listen), listen.description)
    }

    /// The name a socket unit gives the Redis-protocol socket (`FileDescriptorName=`).
    public static let respSocketName = "resp"

    /// Where to serve metrics: a socket named "metrics" passed by systemd alongside the
    /// protocol socket, else `--metrics-listen`; nil when neither (metrics off).
    public static func resolveMetrics(
        listen: PeerAddress?
    ) throws -> (source: FrameListener.Source, description: String)? {
        try resolveSecondary(named: metricsSocketName, listen: listen)
    }

    /// Where to serve the Redis protocol: a socket named "resp" passed by systemd alongside
    /// the protocol socket, else `--resp-listen`; nil when neither (off).
    public static func resolveRESP(
        listen: PeerAddress?
    ) throws -> (source: FrameListener.Source, description: String)? {
        try resolveSecondary(named: respSocketName, listen: listen)
    }

    /// A socket named `name` passed by systemd alongside the protocol socket, else `listen`.
    private static func resolveSecondary(
        named name: String, listen: PeerAddress?
    ) throws -> (source: FrameListener.Source, description: String)? {
        let passed = try PassedSockets.fromEnvironment()
        // A lone passed socket is the protocol socket, whatever its name.
        if passed.count > 1, let socket = passed.first(where: { $0.name == name }) {
            return (.inherited(fd: socket.fd), "socket passed by systemd (fd \(socket.fd), \"\(socket.name)\")")
        }
        return listen.map { (.bind($0), $0.description) }
    }
}
