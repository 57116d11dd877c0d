import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Logs refused TLS handshakes on a listener, at most one record a second with a count
/// of the rest: a misconfigured peer retries, and a scan may try thousands, neither of
/// which may flood the journal.
final class HandshakeFailureLog: Sendable {
    private let logger: Logger
    private let state = NIOLockedValueBox((lastLogged: NIODeadline.distantPast, suppressed: 0))

    init(logger: Logger) {
        self.logger = logger
    }

    func failed(peer: String, failure: HandshakeFailure) {
        let now = NIODeadline.now()
        let suppressed: Int? = state.withLockedValue { state in
            guard now - state.lastLogged >= .seconds(1) else {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        guard let suppressed else { return }
        let more = suppressed > 0 ? " (\(suppressed) more refused since the last record)" : ""
        logger.warning(
            "TLS handshake refused: \(failure.reason)\(more)",
            metadata: ["kv_peer": "\(peer)", "kv_event": "tls-refused", "kv_reason": "\(failure.reason)"])
    }
}
