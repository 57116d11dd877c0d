import KVTransport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Accepts Redis-protocol (RESP2/RESP3) connections and serves each with its own client session
/// of `backend`. Binds an address, or adopts a listening socket passed by systemd.
public final class RESPListener: Sendable {
    /// Client requests one connection may have running at once (see
    /// `RESPConnectionHandler`).
    public static let defaultMaxRequestsInFlight = 1024

    public let channel: any Channel
    private let connections: ConnectionRegistry

    private init(channel: any Channel, connections: ConnectionRegistry) {
        self.channel = channel
        self.connections = connections
    }

    /// The address actually bound (useful with port 0).
    public var localAddress: PeerAddress? {
        guard let address = channel.localAddress, let port = address.port else { return nil }
        return PeerAddress(host: address.ipAddress ?? "127.0.0.1", port: port)
    }

    public var openConnections: Int { connections.count }

    /// - Parameters:
    ///   - maxConnections: connections beyond this many get `-ERR max number of clients
    ///     reached` (Redis's words) and are closed.
    ///   - connectionGroup: the loops the connections run on (`kv-server --io-threads`);
    ///     nil: `group`'s, where the listening socket runs.
    ///   - tls: when set, every connection begins with a TLS handshake (`redis-cli --tls`).
    public static func start(
        source: FrameListener.Source, backend: any RESPBackend, group: any EventLoopGroup,
        connectionGroup: (any EventLoopGroup)? = nil, logger: Logger,
        maxRequestsInFlight: Int = defaultMaxRequestsInFlight, decoderBounds: RESPDecoder.Bounds = .init(),
        maxConnections: Int = FrameListener.defaultMaxConnections, secret: SharedSecret? = nil,
        tls: (any ConnectionSecurity)? = nil
    ) async throws -> RESPListener {
        let connections = ConnectionRegistry(limit: maxConnections)
        let endpoint = RESPCommandRunner.Endpoint(
            startedAt: .now(), connectedClients: { connections.count }, secret: secret)
        let flushes = LoopFlushes.perLoop(of: connectionGroup ?? group)
        let bootstrap = ServerBootstrap(group: group, childGroup: connectionGroup ?? group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // A client that shuts down its sending side still gets its replies.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                guard connections.admit(child) else {
                    // Behind TLS the refusal would wait for a handshake an idle peer never
                    // begins, holding a descriptor the limit does not count: closed at once.
                    if tls != nil { return child.close() }
                    return child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(RESPConnectionRefusal())
                    }
                }
                let loopFlushes = flushes[ObjectIdentifier(child.eventLoop)]
                assert(loopFlushes != nil, "a connection on a loop not of its group")
                return child.eventLoop.makeCompletedFuture {
                    try tls?.secureAccepted(child)
                    try child.pipeline.syncOperations.addHandler(
                        RESPConnectionHandler(
                            backend: backend, endpoint: endpoint, eventLoop: child.eventLoop,
                            flushes: loopFlushes, decoderBounds: decoderBounds,
                            maxRequestsInFlight: maxRequestsInFlight, logger: logger))
                }
            }
        let channel = try await bootstrap.listen(on: source)
        return RESPListener(channel: channel, connections: connections)
    }

    /// Stops accepting; open connections stay.
    public func stopAccepting() async {
        try? await channel.close()
    }

    /// Stops accepting and closes every open connection.
    public func close() async {
        try? await channel.close()
        await connections.closeAll()
    }
}
