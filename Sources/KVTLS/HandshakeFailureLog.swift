import KVTransport
import Logging

/// Logs refused TLS handshakes on a listener, at most one record a second with a count
/// of the rest: a misconfigured peer retries, and a scan may try thousands.
final class HandshakeFailureLog: Sendable {
    private let log: RateLimitedLog

    init(logger: Logger) {
        log = RateLimitedLog(logger: logger)
    }

    func failed(peer: String, failure: HandshakeFailure) {
        log.warning(metadata: ["kv_peer": "\(peer)", "kv_event": "tls-refused", "kv_reason": "\(failure.reason)"]) {
            more in "TLS handshake refused: \(failure.reason)\(more)"
        }
    }
}
