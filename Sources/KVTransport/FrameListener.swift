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

    public static func start(
        source: Source, group: any EventLoopGroup, logger: Logger, faults: FaultInjector? = nil,
        onFrame: @escaping @Sendable (Frame, Responder) -> Void
    ) async throws -> FrameListener {
        let children = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { child in
                let id = ObjectIdentifier(child)
                children.withLockedValue { $0[id] = child }
                child.closeFuture.whenComplete { _ in _ = children.withLockedValue { $0.removeValue(forKey: id) } }
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(FrameDecoder()),
                        MessageCodecHandler(),
                        ServerHandshakeHandler(),
                        FrameDispatcher(faults: faults, onFrame: onFrame),
                        ProtocolErrorHandler(logger: logger)
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
        return FrameListener(channel: channel, children: children)
    }

    /// Stops accepting; open connections stay.
    public func stopAccepting() async {
        try? await channel.close()
    }

    /// Stops accepting and closes every open connection (a crash, as far as peers see).
    public func closeAll() async {
        try? await channel.close()
        let open = children.withLockedValue { Array($0.values) }
        for child in open { try? await child.close() }
    }

    public var openConnections: Int { children.withLockedValue { $0.count } }
}
