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
        case accepting(HandshakeFailureLog)
        case connecting(peer: String)
    }

    private enum Phase {
        case handshaking
        case established
        case failed
    }

    private let side: Side
    private var phase = Phase.handshaking

    init(side: Side) {
        self.side = side
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent {
            phase = .established
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
        guard case .handshaking = phase else {
            context.fireErrorCaught(error)
            return
        }
        phase = .failed
        let failure = HandshakeFailure(error)
        switch side {
        case .accepting(let log):
            log.failed(peer: context.channel.remoteAddress?.description ?? "?", failure: failure)
            context.close(promise: nil)
        case .connecting(let peer):
            context.fireErrorCaught(TLSHandshakeError(peer: peer, reason: failure.reason))
        }
    }
}

/// A connection this process opened failed its TLS handshake.
public struct TLSHandshakeError: Error, CustomStringConvertible, Sendable {
    public let peer: String
    public let reason: String

    public var description: String { "TLS handshake with \(peer) failed: \(reason)" }
}
