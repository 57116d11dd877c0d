import Foundation
import Logging
import NIOCore
import NIOPosix
import XCTest

/// What every integration test shares: one small event loop group (the daemons, proxies
/// and clients all run on it, as they would share two cores in production) and a quiet
/// logger. Set `KV_TEST_LOG=debug` (or any swift-log level) to see the daemons' logs.
enum Shared {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    static let logger: Logger = {
        if let text = ProcessInfo.processInfo.environment["KV_TEST_LOG"], let level = Logger.Level(rawValue: text) {
            var logger = Logger(label: "kv-integration", factory: { StreamLogHandler.standardError(label: $0) })
            logger.logLevel = level
            return logger
        }
        return Logger(label: "kv-integration", factory: { _ in SwiftLogNoOpLogHandler() })
    }()
}

/// A bounded wait ran out.
struct WaitTimeout: Error, CustomStringConvertible {
    var what: String
    var seconds: Double
    var description: String { "timed out after \(seconds)s waiting until \(what)" }
}

/// Polls `condition` until it holds; fails the test (and throws) after `timeout` seconds.
/// Every wait in these tests is one of these: no fixed sleep stands in for a condition.
func waitUntil(
    _ what: @autoclosure () -> String, timeout: Double = 10, interval: Double = 0.02,
    detail: (() async -> String)? = nil, isolation: isolated (any Actor)? = #isolation,
    file: StaticString = #filePath, line: UInt = #line, _ condition: () async throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try await condition() { return }
        if Date() >= deadline {
            var description = what()
            if let detail { description += " (now: \(await detail()))" }
            let error = WaitTimeout(what: description, seconds: timeout)
            XCTFail("\(error)", file: file, line: line)
            throw error
        }
        try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
    }
}

/// Sleeps for a time (only where the test checks that something does *not* happen during
/// a window, or paces a workload; never in place of a condition).
func pause(_ seconds: Double) async throws {
    try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
}

/// A value shared between tasks of a test.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }

    @discardableResult
    func update<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
}

/// 32-bit FNV-1a, written here independently of KVProtocol.PutHash, so the PutHash chain
/// is checked against the original's definition and not against the code under test.
enum ReferenceHash {
    static func fnv1a32(_ text: String) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in text.utf8 {
            hash = (hash ^ UInt32(byte)) &* 0x0100_0193
        }
        return hash
    }

    /// The value PutHash stores: decimal FNV-1a-32 of previous + argument.
    static func putHash(previous: String, argument: String) -> String {
        String(fnv1a32(previous + argument))
    }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
