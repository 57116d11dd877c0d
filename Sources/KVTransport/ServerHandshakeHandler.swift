import KVProtocol
import NIOCore

/// The listening side of the connection's opening: the first frame must be a `hello` of
/// a version we speak, answered with `helloAck`. With a shared secret the `helloAck`
/// carries a challenge, and the connection opens only once the peer's `authenticate`
/// proves it knows the secret; this side then proves the same in `authenticated`. No
/// frame reaches the node before that.
///
/// Behind TLS it also keeps the messages only cluster members and operators may send
/// (`Message.needsClusterCertificate`) from a peer that proved no certificate.
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
    private let certificateRule: CertificateRule
    private var state = State.awaitingHello

    /// Who may send `Message.needsClusterCertificate` messages.
    public enum CertificateRule: Sendable {
        /// No TLS: the shared secret, if any, is the only proof a connection gives.
        case none
        /// Behind TLS: only a connection whose peer proved a certificate (`PeerCertified`).
        case requiredForClusterMessages
    }

    private enum PeerIdentity {
        case anonymous
        case certified
    }

    private var identity = PeerIdentity.anonymous

    public init(secret: SharedSecret? = nil, certificateRule: CertificateRule = .none) {
        self.secret = secret
        self.certificateRule = certificateRule
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is PeerCertified {
            identity = .certified
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch state {
        case .established:
            if case .requiredForClusterMessages = certificateRule, case .anonymous = identity,
                frame.message.needsClusterCertificate
            {
                context.fireErrorCaught(
                    ProtocolError(
                        .authenticationFailed,
                        "\(frame.message.typeCode) needs a client certificate signed by the cluster's CA"))
                return
            }
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
