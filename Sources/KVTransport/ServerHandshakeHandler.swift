import KVProtocol
import NIOCore

/// The listening side of the connection's opening: the first frame must be a `hello` of
/// a version we speak, answered with `helloAck`. With a shared secret the `helloAck`
/// carries a challenge, and the connection opens only once the peer's `authenticate`
/// proves it knows the secret; this side then proves the same in `authenticated`. No
/// frame reaches the node before that.
public final class ServerHandshakeHandler: ChannelInboundHandler {
    public typealias InboundIn = Frame
    public typealias InboundOut = Frame
    public typealias OutboundOut = Frame

    private enum State {
        case awaitingHello
        case awaitingProof(challenge: [UInt8])
        case established
    }

    private let secret: SharedSecret?
    private var state = State.awaitingHello

    public init(secret: SharedSecret? = nil) {
        self.secret = secret
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch state {
        case .established:
            context.fireChannelRead(data)
        case .awaitingHello:
            guard case .hello(let version) = frame.message else {
                context.fireErrorCaught(ProtocolError(.handshakeRequired, "first frame was \(frame.message.typeCode)"))
                return
            }
            guard version == ProtocolVersion.current else {
                context.fireErrorCaught(
                    ProtocolError(
                        .versionMismatch, "peer speaks version \(version), this server \(ProtocolVersion.current)"))
                return
            }
            var challenge: [UInt8] = []
            if secret != nil {
                challenge = SharedSecret.nonce()
                state = .awaitingProof(challenge: challenge)
            } else {
                state = .established
            }
            context.writeAndFlush(
                wrapOutboundOut(
                    Frame(
                        requestID: frame.requestID,
                        message: .helloAck(version: ProtocolVersion.current, challenge: challenge))),
                promise: nil)
        case .awaitingProof(let challenge):
            guard case .authenticate(let nonce, let proof) = frame.message, let secret else {
                context.fireErrorCaught(
                    ProtocolError(
                        .authenticationFailed,
                        "this listener requires authentication; got \(frame.message.typeCode) instead"))
                return
            }
            guard secret.verify(proof, by: .connecting, challenge: challenge, nonce: nonce) else {
                context.fireErrorCaught(
                    ProtocolError(.authenticationFailed, "wrong proof: the peer does not know the shared secret"))
                return
            }
            state = .established
            let answer = secret.proof(by: .listening, challenge: challenge, nonce: nonce)
            context.writeAndFlush(
                wrapOutboundOut(Frame(requestID: frame.requestID, message: .authenticated(proof: answer))),
                promise: nil)
        }
    }
}
