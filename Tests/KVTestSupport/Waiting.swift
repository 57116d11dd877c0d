import XCTest

/// A bounded wait ran out.
package struct WaitTimeout: Error, CustomStringConvertible {
    package var what: String
    package var seconds: Double
    package var description: String { "timed out after \(seconds) s waiting until \(what)" }
}

/// Polls `condition` until it holds. After `timeout` seconds it fails the test, naming
/// `what` (and `detail`, the state seen last), and throws `WaitTimeout`.
///
/// This is the one way the tests wait: for a condition, never for a fixed time, so a
/// fast machine does not wait longer than needed and a slow one is given up to the bound.
package func waitUntil(
    _ what: @autoclosure () -> String, timeout: Double = 10, interval: Double = 0.02,
    detail: (() async -> String)? = nil, isolation: isolated (any Actor)? = #isolation,
    file: StaticString = #filePath, line: UInt = #line, _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(timeout)
    while true {
        if try await condition() { return }
        if clock.now >= deadline {
            var description = what()
            if let detail { description += " (last seen: \(await detail()))" }
            let error = WaitTimeout(what: description, seconds: timeout)
            XCTFail("\(error)", file: file, line: line)
            throw error
        }
        try await Task.sleep(for: .seconds(interval))
    }
}

/// Sleeps for a time: only to pace a workload, or where the length of a window is itself
/// what a test measures (a rate over a window). Never in place of a condition.
package func pause(_ seconds: Double) async throws {
    try await Task.sleep(for: .seconds(seconds))
}
