import KVProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A client-side connection that has passed the version check. Thread-safe: requests
/// may be sent from any thread or task.
public final class KVConnection: Sendable {
    public let peer: String
    public let channel: any Channel

    private init(peer: String, channel: any Channel) {
        self.peer = peer
        self.channel = channel
    }

    public var isActive: Bool { channel.isActive }

    /// Connects to `address` ("host:port") and performs the hello exchange, and with a
    /// shared secret the challenge-response in both directions. A secret configured on one
    /// side only is a failure: either side could otherwise be an impostor. With `tls`, the
    /// TLS handshake comes first, and its failure is the connection's.
    public static func connect(
        to address: String, group: any EventLoopGroup, timeout: TimeAmount = .seconds(2),
        secret: SharedSecret? = nil, tls: (any ConnectionSecurity)? = nil
    ) -> EventLoopFuture<KVConnection> {
        let loop = group.next()
        guard let peer = PeerAddress(address) else {
            return loop.makeFailedFuture(TransportError.badAddress(address))
        }
        // Why the connection failed, if it did before the hello was written (a TLS
        // handshake refused at once): the hello's own failure would say only "closed".
        let failure = NIOLockedValueBox<(any Error)?>(nil)
        return ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try tls?.secureConnecting(channel, to: peer)
                    try channel.pipeline.syncOperations.addHandlers(
                        FlushCoalescingHandler(),
                        ByteToMessageHandler(FrameDecoder()),
                        MessageCodecHandler(),
                        RequestMultiplexer(failure: failure)
                    )
                }
            }
            .connect(host: peer.host, port: peer.port)
            .flatMap { channel in
                let connection = KVConnection(peer: address, channel: channel)
                // Behind TLS the hello waits in the TLS handler for the handshake; a failed
                // handshake fails it with the reason.
                return connection.request(.hello(version: ProtocolVersion.current), timeout: timeout)
                    .flatMap { reply -> EventLoopFuture<KVConnection> in
                        guard case .helloAck(_, let challenge) = reply else {
                            return channel.eventLoop.makeFailedFuture(
                                TransportError.unexpectedReply("\(reply.typeCode) to hello"))
                        }
                        switch (challenge.isEmpty, secret) {
                        case (true, nil):
                            return channel.eventLoop.makeSucceededFuture(connection)
                        case (true, .some):
                            return channel.eventLoop.makeFailedFuture(
                                TransportError.peerNotAuthenticated(address, "it has no shared secret configured"))
                        case (false, nil):
                            return channel.eventLoop.makeFailedFuture(TransportError.authenticationRequired(address))
                        case (false, .some(let secret)):
                            return connection.authenticate(challenge: challenge, secret: secret, timeout: timeout)
                        }
                    }
                    .flatMapErrorThrowing { error in
                        channel.close(promise: nil)
                        throw (failure.withLockedValue { $0 } ?? error) as any Error
                    }
            }
    }

    private func authenticate(
        challenge: [UInt8], secret: SharedSecret, timeout: TimeAmount
    ) -> EventLoopFuture<KVConnection> {
        let nonce = SharedSecret.nonce()
        let proof = secret.proof(by: .connecting, challenge: challenge, nonce: nonce)
        return request(.authenticate(nonce: nonce, proof: proof), timeout: timeout).flatMapThrowing { reply in
            guard case .authenticated(let answer) = reply else {
                throw TransportError.unexpectedReply("\(reply.typeCode) to authenticate")
            }
            guard secret.verify(answer, by: .listening, challenge: challenge, nonce: nonce) else {
                throw TransportError.peerNotAuthenticated(self.peer, "wrong proof: it does not know the shared secret")
            }
            return self
        }
    }

    /// Sends `message` and returns the reply, or fails after `timeout`.
    public func request(_ message: Message, timeout: TimeAmount) -> EventLoopFuture<Message> {
        let promise = channel.eventLoop.makePromise(of: Message.self)
        channel.writeAndFlush(OutgoingRequest(message: message, promise: promise, timeout: timeout))
            .whenFailure { error in promise.fail(error) }
        return promise.futureResult
    }

    public func close() {
        channel.close(promise: nil)
    }
}
