import ArgumentParser
import KVSystemd
import Logging

/// Logging flags both daemons take.
public struct LoggingOptions: ParsableArguments {
    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical.")
    public var logLevel: String = "info"

    @Option(
        help: "Where logs go: auto (journald when stderr is the journal, else stderr), journal, stderr.")
    public var logTarget: String = "auto"

    public init() {}

    public func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError(
                "--log-level: \"\(logLevel)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        guard LogTarget(rawValue: logTarget) != nil else {
            throw ValidationError("--log-target: \"\(logTarget)\" is not one of auto, journal, stderr")
        }
    }

    /// Installs the log handler and returns the daemon's logger.
    public func bootstrap(identifier: String) -> Logger {
        DaemonLogging.bootstrap(
            identifier: identifier, target: LogTarget(rawValue: logTarget)!, level: Logger.Level(rawValue: logLevel)!)
        return Logger(label: identifier)
    }
}
