import KVTransport
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Sits right behind the TLS handler. On an accepted connection it tells the handlers
/// behind who the peer proved to be (`PeerCertified`); on a failed handshake it logs the
/// reason with the peer's address (rate-limited) and closes the connection, so the frame
/// or RESP handlers behind never see a TLS error. On a connection this process opened, it
/// passes the failure on in its explained form, so what was waiting on the connection
/// fails with the reason.
final class HandshakeObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Side {
        /// Closed, and logged, when the handshake has not completed within `timeout`.
        case accepting(HandshakeFailureLog, timeout: TimeAmount)
        case connecting(peer: PeerAddress)
    }

    private enum Phase {
        case handshaking
        case established
        case failed
    }

    private let side: Side
    private var phase = Phase.handshaking
    private var deadline: Scheduled<Void>?

    init(side: Side) {
        self.side = side
    }

    func channelActive(context: ChannelHandlerContext) {
        if case .accepting(let log, let timeout) = side {
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                guard case .handshaking = self.phase else { return }
                self.phase = .failed
                log.failed(
                    peer: Self.describe(context.channel.remoteAddress),
                    failure: HandshakeFailure(
                        reason: "no TLS handshake within \(timeout.nanoseconds / 1_000_000) ms",
                        isAboutCertificates: false))
                context.close(promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent {
            phase = .established
            deadline?.cancel()
            if case .accepting = side,
                let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
                    .peerCertificate
            {
                context.fireUserInboundEventTriggered(PeerCertified(subject: CertificateTime.subject(of: certificate)))
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure = HandshakeFailure(error, peerCertificate: peerCertificate(context), dialled: dialledHost)
        switch (side, phase) {
        case (.accepting(let log, _), .handshaking):
            phase = .failed
            deadline?.cancel()
            log.failed(peer: Self.describe(context.channel.remoteAddress), failure: failure)
            context.close(promise: nil)
        case (.connecting(let peer), .handshaking):
            phase = .failed
            context.fireErrorCaught(
                failure.isAboutCertificates
                    ? TransportError.certificateRefused(peer: "\(peer)", reason: failure.reason)
                    : TransportError.handshakeFailed(peer: "\(peer)", reason: failure.reason))
        case (.connecting(let peer), .established) where failure.isAboutCertificates:
            // Under TLS 1.3 the listener checks this side's certificate after this side's
            // part of the handshake is done: its refusal comes as the first read's error.
            phase = .failed
            context.fireErrorCaught(TransportError.certificateRefused(peer: "\(peer)", reason: failure.reason))
        case (_, .established), (_, .failed):
            context.fireErrorCaught(error)
        }
    }

    private var dialledHost: String? {
        guard case .connecting(let peer) = side else { return nil }
        return peer.host
    }

    /// "HOST:PORT", as peers are named in every other log record.
    static func describe(_ address: SocketAddress?) -> String {
        guard let address, let host = address.ipAddress, let port = address.port else { return "?" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The certificate the peer presented, when the TLS handler still has it (after a
    /// failed verification it may not).
    private func peerCertificate(_ context: ChannelHandlerContext) -> NIOSSLCertificate? {
        switch side {
        case .accepting:
            try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
        case .connecting:
            try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
        }
    }
}
