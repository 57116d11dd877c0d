import Foundation
import KVServices
import KVTransport
import Logging
import NIOCore
import NIOPosix
import XCTest

/// `kv-server --metrics-listen` end to end: the built binary serves /metrics.
final class DaemonMetricsFlagTests: XCTestCase {
    /// `name` sits next to the test bundle in the build directory.
    private static func binary(_ name: String) -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !directory.path.hasSuffix(".xctest") && directory.path != "/" {
            if FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent(name).path) { break }
            directory.deleteLastPathComponent()
        }
        if directory.path.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent(name)
    }

    private static func freePort(_ group: any EventLoopGroup) async throws -> Int {
        let probe = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        return port
    }

    private static func process(_ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = binary("kv-server")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        for name in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC"] {
            environment[name] = nil
        }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        return process
    }

    /// Waits up to `seconds` for `process` to exit; kills it if it does not.
    private static func waitForExit(_ process: Process, seconds: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return false
        }
        return true
    }

    func testKVServerServesMetricsWithTheFlag() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "metrics-flag-tests")
        logger.logLevel = .critical
        let monitor = try await MonitorNode.start(
            configuration: .init(listen: .bind(PeerAddress(host: "127.0.0.1", port: 0))), group: group, logger: logger)
        let (listenPort, metricsPort) = (try await Self.freePort(group), try await Self.freePort(group))
        let server = Self.process([
            "--listen", "127.0.0.1:\(listenPort)", "--monitor", monitor.localAddress!.description,
            "--metrics-listen", "127.0.0.1:\(metricsPort)", "--log-level", "critical", "--log-target", "stderr",
        ])
        var samples: Samples?
        var failure: (any Error)?
        do {
            try server.run()
            let deadline = Date().addingTimeInterval(10)
            while server.isRunning && Date() < deadline {
                if let scraped = try? await MetricsScrape.metrics(at: "127.0.0.1:\(metricsPort)", group: group),
                    // The gauges are set one after another on a tick: wait for the role too.
                    scraped["kvservice_view_number"] == 1, scraped[#"kvservice_role{role="primary"}"#] == 1
                {
                    samples = scraped
                    break
                }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
        } catch {
            failure = error
        }
        if server.isRunning { server.terminate() }
        let exited = (try? await Self.waitForExit(server, seconds: 10)) ?? false
        await monitor.stop()
        try await group.shutdownGracefully()
        if let failure { throw failure }

        XCTAssertTrue(exited, "kv-server did not stop on SIGTERM")
        guard let samples else { return XCTFail("no metrics with view 1 from kv-server --metrics-listen") }
        XCTAssertEqual(samples[#"kvservice_role{role="primary"}"#], 1, samples.text)
        XCTAssertEqual(samples["kvservice_keys"], 0, samples.text)
        XCTAssertEqual(server.terminationStatus, 0)
    }

    func testKVServerRejectsABadMetricsAddress() async throws {
        let server = Self.process(["--metrics-listen", "nowhere"])
        try server.run()
        let exited = try await Self.waitForExit(server, seconds: 10)
        XCTAssertTrue(exited)
        XCTAssertEqual(server.terminationStatus, 64, "a usage error")
    }
}
