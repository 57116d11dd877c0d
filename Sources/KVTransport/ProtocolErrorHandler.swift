import KVProtocol
import Logging
import NIOCore

/// The last handler of a listening-side pipeline: a protocol error is told to the peer
/// in an `error` frame, logged, and ends the connection. Nothing reaches the store.
public final class ProtocolErrorHandler: ChannelInboundHandler {
    public typealias InboundIn = Frame
    public typealias OutboundOut = Frame

    private let logger: Logger
    private var closing = false

    public init(logger: Logger) {
        self.logger = logger
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !closing else { return }
        closing = true
        let peer = context.channel.remoteAddress?.description ?? "?"
        if let error = error as? ProtocolError {
            // A refusal for want of a secret or a certificate is the peer's credentials,
            // not its bytes: told apart so an operator can search for either.
            let refused = error.code == .authenticationFailed
            logger.warning(
                refused
                    ? "peer refused: \(error.detail); closing connection" : "bad input from peer, closing connection",
                metadata: [
                    "kv_peer": "\(peer)", "kv_error": "\(error)", "kv_event": refused ? "auth-refused" : "bad-input",
                ])
            let frame = Frame(requestID: 0, message: .error(code: error.code, message: error.detail))
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
        } else if case .peerSpeaksTLS? = error as? TransportError {
            logger.warning(
                "a peer began a TLS handshake on this plain-TCP listener: closing (start this daemon with --tls-*, or the peer without)",
                metadata: ["kv_peer": "\(peer)", "kv_event": "bad-input"])
            context.close(promise: nil)
        } else if let error = error as? ByteToMessageDecoderError.PayloadTooLargeError {
            logger.warning("bad input from peer: \(error)", metadata: ["kv_peer": "\(peer)", "kv_event": "bad-input"])
            context.close(promise: nil)
        } else {
            logger.debug("connection error: \(error)", metadata: ["kv_peer": "\(peer)"])
            context.close(promise: nil)
        }
    }
}
