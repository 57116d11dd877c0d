import KVClient
import KVProtocol
import KVTestSupport
import NIOConcurrencyHelpers
import NIOCore
import XCTest

/// The client library tells a front end why it retries (issue 17: kvctl on a terminal says
/// what it waits for instead of hanging in silence), and keeps retrying until its caller's
/// deadline.
final class ClientRetryReportTests: XCTestCase {
    func testAClientSaysWhyItRetriesWhenNoMonitorAnswers() async throws {
        let port = try Loopback.freePort()  // nobody listens there
        var configuration = KVClient.Configuration(monitor: "127.0.0.1:\(port)")
        let reported = NIOLockedValueBox<[String]>([])
        configuration.onRetry = { problem in reported.withLockedValue { $0.append(problem) } }
        let client = KVClient(configuration: configuration)
        defer { client.close() }
        do {
            _ = try await client.get(Bytes(utf8: "k"), deadline: .now() + .milliseconds(700))
            XCTFail("a get with no monitor succeeded")
        } catch KVClientError.timedOut {
        }
        let problems = reported.withLockedValue { $0 }
        XCTAssertGreaterThan(problems.count, 1, "one report per failed attempt: \(problems)")
        XCTAssertTrue(
            problems.allSatisfy { $0.hasPrefix("monitor 127.0.0.1:\(port): ") && $0.contains("refused") }, "\(problems)"
        )
        reported.withLockedValue { $0.removeAll() }
        _ = try? await client.view(deadline: .now() + .milliseconds(300))
        XCTAssertFalse(reported.withLockedValue { $0 }.isEmpty, "admin queries report too")
    }
}
