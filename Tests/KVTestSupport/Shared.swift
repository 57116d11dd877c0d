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
