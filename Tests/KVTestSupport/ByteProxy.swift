import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP proxy that passes bytes as they come (any protocol: the monitors' HTTP to
/// etcd), and can cut the way like a network partition: `cut()` makes every connection,
/// open or new, a black hole (bytes are swallowed, nothing is closed, so requests hang
/// until their own timeouts), until `restore()`.
package final class ByteProxy: Sendable {
    private let channel: any Channel
    private let state: NIOLockedValueBox<Bool>
    package let target: (host: String, port: Int)

    private init(channel: any Channel, state: NIOLockedValueBox<Bool>, target: (host: String, port: Int)) {
        self.channel = channel
        self.state = state
        self.target = target
    }

    package var port: Int { channel.localAddress?.port ?? 0 }

    package static func start(targetHost: String = "127.0.0.1", targetPort: Int, group: any EventLoopGroup)
        async throws -> ByteProxy
    {
        let state = NIOLockedValueBox(false)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { inbound in
                let toTarget = Relay(cut: state)
                let promise = inbound.eventLoop.makePromise(of: Void.self)
                ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.pipeline.addHandler(Relay(cut: state, partner: inbound))
                    }
                    .connect(host: targetHost, port: targetPort)
                    .whenComplete { result in
                        switch result {
                        case .success(let outbound):
                            toTarget.partner = outbound
                            promise.succeed()
                        case .failure(let error):
                            inbound.close(promise: nil)
                            promise.fail(error)
                        }
                    }
                return promise.futureResult.flatMap { inbound.pipeline.addHandler(toTarget) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ByteProxy(channel: channel, state: state, target: (targetHost, targetPort))
    }

    /// From now on every byte either way is swallowed.
    package func cut() { state.withLockedValue { $0 = true } }

    package func restore() { state.withLockedValue { $0 = false } }

    package func stop() async {
        try? await channel.close()
    }
}

/// One direction of a proxied connection: what it reads goes to its partner, unless the
/// proxy is cut. Closing either side closes the other.
private final class Relay: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let cut: NIOLockedValueBox<Bool>
    /// Set before the handler is added, or from the partner's connect completion on the
    /// same loop.
    var partner: (any Channel)?

    init(cut: NIOLockedValueBox<Bool>, partner: (any Channel)? = nil) {
        self.cut = cut
        self.partner = partner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !cut.withLockedValue({ $0 }) else { return }
        partner?.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
