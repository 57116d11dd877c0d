import Foundation
import KVClient
import KVMetrics
import KVProtocol
import KVServices
import KVTransport
import Logging
import NIOCore
import NIOPosix
import Prometheus
import XCTest

/// The Prometheus endpoints of an in-process monitor and two servers: counters move with
/// the requests made, gauges follow the view and the store.
final class MetricsEndpointTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var monitor: MonitorNode?
    private var servers: [ServerNode] = []
    private var endpoints: [MetricsEndpoint] = []
    private var clients: [KVClient] = []

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    }

    override func tearDown() async throws {
        for client in clients { client.close() }
        for server in servers { await server.crash() }
        await monitor?.stop()
        for endpoint in endpoints { await endpoint.close() }
        try await group.shutdownGracefully()
    }

    private static var quietLogger: Logger {
        var logger = Logger(label: "metrics-tests")
        logger.logLevel = .critical
        return logger
    }

    private static let anyPort = PeerAddress(host: "127.0.0.1", port: 0)

    /// A registry with its endpoint on a free port; returns the factory and the address.
    private func startEndpoint() async throws -> (PrometheusMetricsFactory, String) {
        let registry = PrometheusCollectorRegistry()
        let endpoint = try await MetricsEndpoint.start(source: .bind(Self.anyPort), registry: registry, group: group)
        endpoints.append(endpoint)
        return (KVMetricsFactory.make(registry: registry), endpoint.localAddress!.description)
    }

    private func startMonitor() async throws -> String {
        let (factory, address) = try await startEndpoint()
        monitor = try await MonitorNode.start(
            configuration: .init(listen: .bind(Self.anyPort), metrics: MonitorMetrics(factory: factory)), group: group,
            logger: Self.quietLogger)
        return address
    }

    private func addServer() async throws -> (ServerNode, String) {
        let probe = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        let (factory, address) = try await startEndpoint()
        let server = try await ServerNode.start(
            configuration: .init(
                listen: .bind(PeerAddress(host: "127.0.0.1", port: port)), advertise: "127.0.0.1:\(port)",
                monitor: monitor!.localAddress!.description, metrics: ServerMetrics(factory: factory)),
            group: group, logger: Self.quietLogger)
        servers.append(server)
        return (server, address)
    }

    /// Polls `condition` until it holds or `seconds` pass.
    private func eventually(
        _ what: String, seconds: Double = 10, _ condition: () async throws -> Bool
    ) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTFail("timed out waiting for \(what)")
        throw CancellationError()
    }

    private func scrape(_ address: String) async throws -> Samples {
        try await MetricsScrape.metrics(at: address, group: group)
    }

    func testCountersMoveAndGaugesFollowTheCluster() async throws {
        let monitorMetrics = try await startMonitor()
        let (primary, primaryMetrics) = try await addServer()
        try await eventually("view 1 acknowledged") { await monitor!.view().acked }
        let (backup, backupMetrics) = try await addServer()
        try await eventually("view 2 acknowledged with a synchronised backup") {
            let view = await monitor!.view()
            let summary = await primary.currentSummary()
            return view.viewnum == 2 && view.acked && summary?.backupSynchronized == true
        }
        let (primaryRole, backupRole) = (await primary.currentSummary()?.role, await backup.currentSummary()?.role)
        XCTAssertEqual(primaryRole, .primary)
        XCTAssertEqual(backupRole, .backup)

        let before = try await scrape(primaryMetrics)
        let client = KVClient(monitor: monitor!.localAddress!.description)
        clients.append(client)
        let deadline = NIODeadline.now() + .seconds(10)
        var bytes = 0
        for index in 0..<5 {
            let (key, value) = (Bytes("key-\(index)".utf8), Bytes("value-\(index)".utf8))
            try await client.put(key, value, deadline: deadline)
            bytes += key.count + value.count
        }
        for index in 0..<3 {
            let value = try await client.get(Bytes("key-\(index)".utf8), deadline: deadline)
            XCTAssertEqual(value, Bytes("value-\(index)".utf8))
        }
        let absent = try await client.get(Bytes("absent".utf8), deadline: deadline)
        XCTAssertNil(absent)
        let after = try await scrape(primaryMetrics)

        func increase(_ series: String) -> Double { (after[series] ?? 0) - (before[series] ?? 0) }
        XCTAssertEqual(increase(#"kvservice_requests_total{op="put",result="ok"}"#), 5, after.text)
        XCTAssertEqual(increase(#"kvservice_requests_total{op="get",result="ok"}"#), 3, after.text)
        XCTAssertEqual(increase(#"kvservice_requests_total{op="get",result="no_key"}"#), 1, after.text)
        XCTAssertEqual(after[#"kvservice_request_duration_seconds_count{op="put",result="ok"}"#], 5, after.text)
        XCTAssertGreaterThan(after[#"kvservice_request_duration_seconds_sum{op="put",result="ok"}"#] ?? 0, 0)
        XCTAssertGreaterThan(after[#"kvservice_forward_batches_total{outcome="sent"}"#] ?? 0, 0, after.text)
        XCTAssertGreaterThan(after[#"kvservice_forward_batches_total{outcome="acked"}"#] ?? 0, 0, after.text)
        XCTAssertGreaterThan(after["kvservice_forward_batch_duration_seconds_count"] ?? 0, 0, after.text)
        XCTAssertEqual(after[#"kvservice_transfers_total{outcome="started"}"#], 1, after.text)
        XCTAssertEqual(after[#"kvservice_transfers_total{outcome="completed"}"#], 1, after.text)
        XCTAssertEqual(after["kvservice_transfer_duration_seconds_count"], 1, after.text)

        // Gauges are taken at each tick.
        try await eventually("the primary's gauges to show 5 keys") {
            let samples = try await scrape(primaryMetrics)
            return samples["kvservice_keys"] == 5
        }
        let primaryNow = try await scrape(primaryMetrics)
        XCTAssertEqual(primaryNow["kvservice_view_number"], 2, primaryNow.text)
        XCTAssertEqual(primaryNow["kvservice_bytes"], Double(bytes), primaryNow.text)
        XCTAssertEqual(primaryNow["kvservice_duplicate_clients"], 1, primaryNow.text)
        XCTAssertEqual(primaryNow[#"kvservice_role{role="primary"}"#], 1, primaryNow.text)
        XCTAssertEqual(primaryNow[#"kvservice_role{role="backup"}"#], 0, primaryNow.text)
        try await eventually("the backup's gauges to show 5 keys") {
            let samples = try await scrape(backupMetrics)
            return samples["kvservice_keys"] == 5
        }
        let backupNow = try await scrape(backupMetrics)
        XCTAssertEqual(backupNow["kvservice_view_number"], 2, backupNow.text)
        XCTAssertEqual(backupNow["kvservice_bytes"], Double(bytes), backupNow.text)
        XCTAssertEqual(backupNow[#"kvservice_role{role="backup"}"#], 1, backupNow.text)
        XCTAssertEqual(backupNow[#"kvservice_role{role="primary"}"#], 0, backupNow.text)
        XCTAssertEqual(backupNow[#"kvservice_requests_total{op="put",result="ok"}"#], nil, "the backup answers none")

        try await eventually("the monitor to count 2 live servers") {
            try await scrape(monitorMetrics)["kvservice_live_servers"] == 2
        }
        let monitorNow = try await scrape(monitorMetrics)
        XCTAssertEqual(monitorNow["kvservice_view_number"], 2, monitorNow.text)
        XCTAssertEqual(monitorNow["kvservice_view_acknowledged"], 1, monitorNow.text)
        XCTAssertEqual(monitorNow["kvservice_view_changes_total"], 2, monitorNow.text)
        XCTAssertGreaterThan(monitorNow["kvservice_pings_total"] ?? 0, 0, monitorNow.text)
    }

    func testOnlyGetMetricsIsServed() async throws {
        let (factory, address) = try await startEndpoint()
        let metrics = ServerMetrics(factory: factory)
        metrics.requestAnswered(op: .put, status: .ok, nanoseconds: 1_000_000)

        let ok = try await MetricsScrape.request("GET", "/metrics", at: address, group: group)
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(ok.header("Content-Type"), MetricsEndpoint.contentType)
        XCTAssertTrue(ok.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let samples = Samples(text: ok.body)
        XCTAssertEqual(samples[#"kvservice_requests_total{op="put",result="ok"}"#], 1, ok.body)
        XCTAssertEqual(samples[#"kvservice_role{role="idle"}"#], 1, ok.body)
        XCTAssertTrue(ok.body.contains("# TYPE kvservice_requests_total counter"), ok.body)

        let withQuery = try await MetricsScrape.request("GET", "/metrics?x=1", at: address, group: group)
        XCTAssertEqual(withQuery.status, 200)
        let other = try await MetricsScrape.request("GET", "/other", at: address, group: group)
        XCTAssertEqual(other.status, 404)
        let post = try await MetricsScrape.request("POST", "/metrics", at: address, group: group)
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.header("Allow"), "GET, HEAD")
    }
}
