import Logging

/// Where a daemon's log records go.
public enum LogTarget: String, CaseIterable, Sendable {
    /// journald when stderr is the journal (`JOURNAL_STREAM`), else stderr.
    case auto
    case journal
    case stderr
}

public enum DaemonLogging {
    /// Installs the process-wide log handler. Returns the target chosen.
    @discardableResult
    public static func bootstrap(identifier: String, target: LogTarget, level: Logger.Level) -> LogTarget {
        let chosen: LogTarget =
            target == .auto ? (JournalStream.stderrIsJournal() ? .journal : .stderr) : target
        LoggingSystem.bootstrap { label in
            switch chosen {
            case .journal:
                var handler = JournalLogHandler(label: label, identifier: identifier)
                handler.logLevel = level
                return handler
            case .stderr, .auto:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        return chosen
    }
}
