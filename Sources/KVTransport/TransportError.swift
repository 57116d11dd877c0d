import KVProtocol

/// Why a request over a connection got no answer.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Whether the failure is about the shared secret: retrying cannot help.
    public var isAuthenticationFailure: Bool {
        switch self {
        case .authenticationRequired, .peerNotAuthenticated: true
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
        }
    }
}
