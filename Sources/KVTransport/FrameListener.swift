import KVProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Accepts connections speaking the kvservice protocol and hands their frames to a
/// handler. Binds an address, or adopts a listening socket passed by systemd.
public final class FrameListener: Sendable {
    public enum Source: Sendable {
        case bind(PeerAddress)
        /// An already bound and listening socket (systemd socket activation).
        case inherited(fd: Int32)
    }

    /// Connections accepted at once by default: below the 1,024 descriptors a service
    /// gets by default, with room for the daemon's own links and files.
    public static let defaultMaxConnections = 1000
    /// Requests one connection may have unanswered before the daemon stops reading from
    /// it: enough for many sessions sharing a connection, and a bound on what one
    /// connection can make the daemon hold.
    public static let maxRequestsInFlightPerConnection = 128

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

    /// - Parameters:
    ///   - maxConnections: connections beyond this many are told `overloaded` and closed
    ///     at once.
    ///   - tls: when set, every connection begins with its handshake, and only a peer that
    ///     proved a certificate may send a cluster member's or an operator's messages.
    public static func start(
        source: Source, group: any EventLoopGroup, logger: Logger,
        maxConnections: Int = defaultMaxConnections, secret: SharedSecret? = nil,
        tls: (any ConnectionSecurity)? = nil,
        onFrame: @escaping @Sendable (Frame, Responder) -> Void
    ) async throws -> FrameListener {
        let connections = ConnectionRegistry(limit: maxConnections)
        let refusals = RefusalLog(logger: logger)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { child in
                guard connections.admit(child) else {
                    refusals.refused(child, limit: maxConnections)
                    // Behind TLS the refusal would wait for a handshake an idle peer never
                    // begins, holding a descriptor the limit does not count: closed at once.
                    if tls != nil { return child.close() }
                    return child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandlers(MessageCodecHandler(), OverloadRefusal())
                    }
                }
                return child.eventLoop.makeCompletedFuture {
                    try tls?.secureAccepted(child)
                    try child.pipeline.syncOperations.addHandlers(
                        FlushCoalescingHandler(),
                        // A client that sends requests without reading the replies: stop
                        // reading its requests while its replies cannot be written, so its
                        // replies never pile up in memory.
                        BackPressureHandler(),
                        ByteToMessageHandler(FrameDecoder()),
                        MessageCodecHandler(),
                        ServerHandshakeHandler(
                            secret: secret, certificateRule: tls == nil ? .none : .requiredForClusterMessages),
                        FrameDispatcher(
                            maxInFlight: maxRequestsInFlightPerConnection, onFrame: onFrame),
                        ProtocolErrorHandler(logger: logger)
                    )
                }
            }
        let channel = try await bootstrap.listen(on: source)
        return FrameListener(channel: channel, connections: connections)
    }

    /// Stops accepting; open connections stay.
    public func stopAccepting() async {
        try? await channel.close()
    }

    /// Stops accepting and closes every open connection (a crash, as far as peers see).
    public func closeAll() async {
        try? await channel.close()
        await connections.closeAll()
    }

    public var openConnections: Int { connections.count }
}
