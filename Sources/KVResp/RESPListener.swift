import KVTransport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Accepts Redis-protocol (RESP2) connections and serves each with its own client session
/// of `backend`. Binds an address, or adopts a listening socket passed by systemd.
public final class RESPListener: Sendable {
    /// Client requests one connection may have running at once (see
    /// `RESPConnectionHandler`).
    public static let defaultMaxRequestsInFlight = 1024

    public let channel: any Channel
    private let children: NIOLockedValueBox<[ObjectIdentifier: any Channel]>

    private init(channel: any Channel, children: NIOLockedValueBox<[ObjectIdentifier: any Channel]>) {
        self.channel = channel
        self.children = children
    }

    /// The address actually bound (useful with port 0).
    public var localAddress: PeerAddress? {
        guard let address = channel.localAddress, let port = address.port else { return nil }
        return PeerAddress(host: address.ipAddress ?? "127.0.0.1", port: port)
    }

    public var openConnections: Int { children.withLockedValue { $0.count } }

    public static func start(
        source: FrameListener.Source, backend: any RESPBackend, group: any EventLoopGroup, logger: Logger,
        maxRequestsInFlight: Int = defaultMaxRequestsInFlight, decoderBounds: RESPDecoder.Bounds = .init()
    ) async throws -> RESPListener {
        let children = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
        let endpoint = RESPCommandRunner.Endpoint(
            startedAt: .now(), connectedClients: { children.withLockedValue { $0.count } })
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // A client that shuts down its sending side still gets its replies.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                let id = ObjectIdentifier(child)
                children.withLockedValue { $0[id] = child }
                child.closeFuture.whenComplete { _ in _ = children.withLockedValue { $0.removeValue(forKey: id) } }
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(RESPDecoder(bounds: decoderBounds)),
                        MessageToByteHandler(RESPEncoder()),
                        RESPConnectionHandler(
                            backend: backend, endpoint: endpoint, maxRequestsInFlight: maxRequestsInFlight,
                            logger: logger)
                    )
                }
            }
        let channel: any Channel
        switch source {
        case .bind(let address):
            channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        case .inherited(let fd):
            channel = try await bootstrap.withBoundSocket(fd).get()
        }
        return RESPListener(channel: channel, children: children)
    }

    /// Stops accepting; open connections stay.
    public func stopAccepting() async {
        try? await channel.close()
    }

    /// Stops accepting and closes every open connection.
    public func close() async {
        try? await channel.close()
        let open = children.withLockedValue { Array($0.values) }
        for child in open { try? await child.close() }
    }
}
