import Foundation
import Logging
import NIOPosix

/// What every test shares: one small event loop group (the daemons, proxies and clients
/// of a test all run on it, as they would share two cores in production) and a quiet
/// logger. Set `KV_TEST_LOG=debug` (or any swift-log level) to see the daemons' logs.
package enum Shared {
    package static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    package static let logger: Logger = {
        if let text = ProcessInfo.processInfo.environment["KV_TEST_LOG"], let level = Logger.Level(rawValue: text) {
            var logger = Logger(label: "kv-tests", factory: { StreamLogHandler.standardError(label: $0) })
            logger.logLevel = level
            return logger
        }
        return Logger(label: "kv-tests", factory: { _ in SwiftLogNoOpLogHandler() })
    }()
}

/// Keeps every record logged through `logger`, so a test can wait for what a node
/// reports about itself (a refused ping, say) rather than for a length of time.
package final class LogRecorder: Sendable {
    package struct Record: Sendable {
        package var level: Logger.Level
        package var message: String
        package var metadata: [String: String]

        /// The record's `kv_event`, the daemons' name for what happened.
        package var event: String? { metadata["kv_event"] }
    }

    private let records = Locked<[Record]>([])

    package init() {}

    /// A logger that records everything from `level` up.
    package func logger(label: String, level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: label) { _ in RecordingHandler(recorder: self) }
        logger.logLevel = level
        return logger
    }

    package var all: [Record] { records.get() }

    package func events(_ event: String) -> [Record] { all.filter { $0.event == event } }

    fileprivate func append(_ record: Record) { records.update { $0.append(record) } }
}

private struct RecordingHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        recorder.append(
            LogRecorder.Record(
                level: event.level, message: "\(event.message)",
                metadata: merged.mapValues { "\($0)" }))
    }
}
