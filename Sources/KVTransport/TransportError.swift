import KVProtocol

/// Why a request over a connection got no answer.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    case timedOut
    case connectionClosed
    case blockedByFaultInjection(String)
    case badAddress(String)
    case peerError(ProtocolErrorCode, String)
    case unexpectedReply(String)

    public var description: String {
        switch self {
        case .timedOut: "timed out"
        case .connectionClosed: "connection closed"
        case .blockedByFaultInjection(let peer): "link to \(peer) is cut (fault injection)"
        case .badAddress(let address): "bad address \"\(address)\" (expected HOST:PORT)"
        case .peerError(let code, let message): "peer reported \(code): \(message)"
        case .unexpectedReply(let what): "unexpected reply: \(what)"
        }
    }
}
