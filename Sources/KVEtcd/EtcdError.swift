/// Why a request or a watch failed.
public enum EtcdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No answer came: the connection was refused or lost, or nothing answered within the
    /// timeout. The request may or may not have taken effect.
    case unreachable(endpoint: String, detail: String)
    /// The member answered that it cannot serve now (HTTP 503, no leader, request timed
    /// out inside etcd, leader changed, ...). Another member may; a write may still have
    /// taken effect when etcd itself timed out.
    case unavailable(endpoint: String, detail: String)
    /// Any other error answer (a bad request, say). Retrying the same request elsewhere
    /// would not help.
    case rejected(endpoint: String, status: Int, detail: String)
    /// The member answered something this client cannot read.
    case malformedAnswer(endpoint: String, detail: String)
    /// A watch's start revision was compacted: the history it asked for is gone. A watcher
    /// must read the current state and watch from there.
    case compacted(compactRevision: Int64)
    /// The client was closed (or the watch cancelled).
    case closed

    public var description: String {
        switch self {
        case .unreachable(let endpoint, let detail): "etcd \(endpoint) unreachable: \(detail)"
        case .unavailable(let endpoint, let detail): "etcd \(endpoint) unavailable: \(detail)"
        case .rejected(let endpoint, let status, let detail):
            "etcd \(endpoint) rejected the request (\(status)): \(detail)"
        case .malformedAnswer(let endpoint, let detail): "etcd \(endpoint) answered something unreadable: \(detail)"
        case .compacted(let revision): "etcd compacted the history up to revision \(revision)"
        case .closed: "etcd client closed"
        }
    }

    /// Whether the next request should go to another member: this one is gone or cannot
    /// serve (no quorum on its side), while a rejection would be the same anywhere.
    var movesPreference: Bool {
        switch self {
        case .unreachable, .unavailable: true
        case .rejected, .malformedAnswer, .compacted, .closed: false
        }
    }
}
