import KVTestSupport
import XCTest

/// `kv-server --metrics-listen` end to end: the built binary serves /metrics.
final class DaemonMetricsFlagTests: XCTestCase {
    func testKVServerServesMetricsWithTheFlag() async throws {
        let cluster = try await makeCluster()
        let scratch = try makeScratch()
        let (listenPort, metricsPort) = (try Loopback.freePort(), try Loopback.freePort())
        let server = try scratch.spawn(
            "kv-server", Binaries.server,
            [
                "--listen", "127.0.0.1:\(listenPort)", "--monitor", cluster.monitorAddress,
                "--metrics-listen", "127.0.0.1:\(metricsPort)", "--log-level", "critical", "--log-target", "stderr",
            ])
        var samples: Samples?
        try await waitUntil(
            "kv-server --metrics-listen serves metrics of view 1", interval: 0.05, detail: { server.outputSummary }
        ) {
            guard server.isRunning else { throw TestSetupError("kv-server exited\n\(server.outputSummary)") }
            // The gauges are set one after another on a tick: wait for the role too.
            guard let scraped = try? await MetricsScrape.metrics(at: "127.0.0.1:\(metricsPort)", group: Shared.group),
                scraped["kvservice_view_number"] == 1, scraped[#"kvservice_role{role="primary"}"#] == 1
            else { return false }
            samples = scraped
            return true
        }
        server.signal(SIGTERM)
        try await server.waitForExit(within: 10)

        let scraped = try XCTUnwrap(samples)
        XCTAssertEqual(scraped[#"kvservice_role{role="primary"}"#], 1, scraped.text)
        XCTAssertEqual(scraped["kvservice_keys"], 0, scraped.text)
        XCTAssertEqual(server.exitCode, 0, "kv-server did not stop cleanly on SIGTERM\n\(server.outputSummary)")
    }

    func testKVServerRejectsABadMetricsAddress() async throws {
        let run = try await makeScratch().run(
            "kv-server", Binaries.server, ["--metrics-listen", "nowhere"], timeout: 10)
        XCTAssertEqual(run.status, 64, "a usage error")
    }
}
