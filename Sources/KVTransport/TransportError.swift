import KVProtocol

/// Why a request over a connection got no answer.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Whether the failure is about the shared secret or a certificate: retrying cannot
    /// help.
    public var isAuthenticationFailure: Bool {
        switch self {
        case .authenticationRequired, .peerNotAuthenticated, .certificateRefused, .peerSpeaksTLS: true
        case .peerError(let code, _): code == .authenticationFailed
        default: false
        }
    }

    case timedOut
    case connectionClosed
    case badAddress(String)
    case peerError(ProtocolErrorCode, String)
    case unexpectedReply(String)
    /// The peer asks for a shared secret and none is configured here.
    case authenticationRequired(String)
    /// A shared secret is configured here and the peer does not prove it knows it.
    case peerNotAuthenticated(String, String)
    /// The TLS handshake with the peer failed over a certificate: this side refused the
    /// peer's (untrusted, expired, another name) or the peer refused this side's.
    case certificateRefused(peer: String, reason: String)
    /// The TLS handshake with the peer failed for another reason (the connection was cut).
    case handshakeFailed(peer: String, reason: String)
    /// The peer sent a TLS record where this side, without TLS, expected a frame.
    case peerSpeaksTLS

    public var description: String {
        switch self {
        case .timedOut: "timed out"
        case .connectionClosed: "connection closed"
        case .badAddress(let address): "bad address \"\(address)\" (expected HOST:PORT)"
        case .peerError(let code, let message): "peer reported \(code): \(message)"
        case .unexpectedReply(let what): "unexpected reply: \(what)"
        case .authenticationRequired(let peer):
            "\(peer) requires authentication, and no shared secret is configured (--secret-file)"
        case .peerNotAuthenticated(let peer, let why): "\(peer) did not authenticate: \(why)"
        case .certificateRefused(let peer, let reason), .handshakeFailed(let peer, let reason):
            "TLS handshake with \(peer) failed: \(reason)"
        case .peerSpeaksTLS: "the peer speaks TLS and this side does not (give it the cluster's CA: --tls-ca)"
        }
    }
}
