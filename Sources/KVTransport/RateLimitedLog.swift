import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Logs one kind of warning at most once a second, with a count of those left out since:
/// a flood (a connection storm, a scan, a misconfigured peer retrying) must not flood the
/// journal.
public final class RateLimitedLog: Sendable {
    private let logger: Logger
    private let state = NIOLockedValueBox((lastLogged: NIODeadline.distantPast, suppressed: 0))

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Logs the warning `message` makes, unless one was logged less than a second ago.
    /// `message` is given " (N more refused since the last record)" when some were left
    /// out, else "".
    public func warning(metadata: Logger.Metadata, _ message: (_ more: String) -> String) {
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
        logger.warning("\(message(more))", metadata: metadata)
    }
}
