import KVProtocol
import NIOCore
import NIOPosix

/// A client-side connection that has passed the version check. Thread-safe: requests
/// may be sent from any thread or task.
public final class KVConnection: Sendable {
    public let peer: String
    public let channel: any Channel
    private let faults: FaultInjector?

    private init(peer: String, channel: any Channel, faults: FaultInjector?) {
        self.peer = peer
        self.channel = channel
        self.faults = faults
    }

    public var isActive: Bool { channel.isActive }

    /// Connects to `address` ("host:port") and performs the hello exchange.
    public static func connect(
        to address: String, group: any EventLoopGroup, timeout: TimeAmount = .seconds(2),
        faults: FaultInjector? = nil
    ) -> EventLoopFuture<KVConnection> {
        let loop = group.next()
        if let faults, faults.isBlocked(address) {
            return loop.makeFailedFuture(TransportError.blockedByFaultInjection(address))
        }
        guard let peer = PeerAddress(address) else {
            return loop.makeFailedFuture(TransportError.badAddress(address))
        }
        return ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(FrameDecoder()),
                        MessageCodecHandler(),
                        RequestMultiplexer()
                    )
                }
            }
            .connect(host: peer.host, port: peer.port)
            .flatMap { channel in
                let connection = KVConnection(peer: address, channel: channel, faults: faults)
                return connection.request(.hello(version: ProtocolVersion.current), timeout: timeout)
                    .flatMapThrowing { reply -> KVConnection in
                        guard case .helloAck = reply else {
                            throw TransportError.unexpectedReply("\(reply.typeCode) to hello")
                        }
                        return connection
                    }
                    .flatMapErrorThrowing { error in
                        channel.close(promise: nil)
                        throw error
                    }
            }
    }

    /// Sends `message` and returns the reply, or fails after `timeout`.
    public func request(_ message: Message, timeout: TimeAmount) -> EventLoopFuture<Message> {
        let promise = channel.eventLoop.makePromise(of: Message.self)
        if let faults, faults.isBlocked(peer) {
            channel.close(promise: nil)
            promise.fail(TransportError.blockedByFaultInjection(peer))
            return promise.futureResult
        }
        channel.writeAndFlush(OutgoingRequest(message: message, promise: promise, timeout: timeout))
            .whenFailure { error in promise.fail(error) }
        return promise.futureResult
    }

    public func close() {
        channel.close(promise: nil)
    }
}
