import KVClient
import KVMetrics
import KVProtocol
import KVTestSupport
import KVTransport
import NIOCore
import Prometheus
import XCTest

/// The Prometheus endpoints of an in-process monitor and two servers: counters move with
/// the requests made, gauges follow the view and the store.
final class MetricsEndpointTests: XCTestCase {
    private static let anyPort = PeerAddress(host: "127.0.0.1", port: 0)

    /// A registry with its endpoint on a free port, closed when the test ends; returns the
    /// factory, the address and the endpoint's appendix (for a server's request metrics).
    private func startEndpoint() async throws -> (PrometheusMetricsFactory, String, MetricsAppendix) {
        let registry = PrometheusCollectorRegistry()
        let appendix = MetricsAppendix()
        let endpoint = try await MetricsEndpoint.start(
            source: .bind(Self.anyPort), registry: registry, appendix: appendix, group: Shared.group)
        addTeardownBlock { await endpoint.close() }
        return (KVMetricsFactory.make(registry: registry), endpoint.localAddress!.description, appendix)
    }

    private func scrape(_ address: String) async throws -> Samples {
        try await MetricsScrape.metrics(at: address, group: Shared.group)
    }

    /// A scrape, or nil while the endpoint cannot be read.
    private func scrapeIfReady(_ address: String) async -> Samples? {
        try? await scrape(address)
    }

    /// The first scrape in which `gauge` has `value` (and `also` holds), within 15 s.
    private func scrapeOnceGauges(
        _ address: String, show gauge: String, _ value: Double, also: (Samples) -> Bool = { _ in true }
    ) async throws -> Samples {
        var found: Samples?
        try await waitUntil("\(gauge) at \(value) on \(address)", timeout: 15) {
            guard let samples = await self.scrapeIfReady(address), samples[gauge] == value, also(samples) else {
                return false
            }
            found = samples
            return true
        }
        return found!
    }

    func testCountersMoveAndGaugesFollowTheCluster() async throws {
        let (monitorFactory, monitorMetrics, _) = try await startEndpoint()
        let cluster = try await makeCluster(metrics: MonitorMetrics(factory: monitorFactory))
        let (primaryFactory, primaryMetrics, primaryAppendix) = try await startEndpoint()
        let primary = try await cluster.addServer(
            metrics: ServerMetrics(factory: primaryFactory, appendix: primaryAppendix))
        try await waitUntil("view 1 acknowledged") { await cluster.view().acked }
        let (backupFactory, backupMetrics, backupAppendix) = try await startEndpoint()
        let backup = try await cluster.addServer(
            metrics: ServerMetrics(factory: backupFactory, appendix: backupAppendix))
        try await waitUntil("view 2 acknowledged with a synchronised backup") {
            let view = await cluster.view()
            let state = await cluster.snapshot(primary)
            return view.viewnum == 2 && view.acked && state?.backupSynchronized == true
        }
        let (primaryRole, backupRole) = (await cluster.snapshot(primary)?.role, await cluster.snapshot(backup)?.role)
        XCTAssertEqual(primaryRole, .primary)
        XCTAssertEqual(backupRole, .backup)

        let before = try await scrape(primaryMetrics)
        let client = await cluster.makeClient()
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

        // Gauges are taken at each tick, one after the other: a scrape may fall between
        // two of them, so the checks read one scrape taken after the last of a tick's
        // gauges, the store's revision, showed the 5 puts: one revision per put (with more,
        // the wait fails, or a scrape caught at revision 5 shows fewer than 5 keys).
        let primaryNow = try await scrapeOnceGauges(primaryMetrics, show: "kvservice_store_revision", 5)
        XCTAssertEqual(primaryNow["kvservice_keys"], 5, primaryNow.text)
        XCTAssertEqual(primaryNow["kvservice_view_number"], 2, primaryNow.text)
        XCTAssertEqual(primaryNow["kvservice_bytes"], Double(bytes), primaryNow.text)
        XCTAssertEqual(primaryNow["kvservice_duplicate_clients"], 1, primaryNow.text)
        XCTAssertEqual(primaryNow["kvservice_keys_with_deadline"], 0, primaryNow.text)
        XCTAssertEqual(primaryNow["kvservice_keys_expired"], 0, primaryNow.text)
        XCTAssertEqual(primaryNow[#"kvservice_role{role="primary"}"#], 1, primaryNow.text)
        XCTAssertEqual(primaryNow[#"kvservice_role{role="backup"}"#], 0, primaryNow.text)
        let backupNow = try await scrapeOnceGauges(backupMetrics, show: "kvservice_store_revision", 5)
        XCTAssertEqual(backupNow["kvservice_keys"], 5, backupNow.text)
        XCTAssertEqual(backupNow["kvservice_view_number"], 2, backupNow.text)
        XCTAssertEqual(backupNow["kvservice_bytes"], Double(bytes), backupNow.text)
        XCTAssertEqual(backupNow[#"kvservice_role{role="backup"}"#], 1, backupNow.text)
        XCTAssertEqual(backupNow[#"kvservice_role{role="primary"}"#], 0, backupNow.text)
        XCTAssertEqual(backupNow[#"kvservice_requests_total{op="put",result="ok"}"#], nil, "the backup answers none")

        // The monitor's gauges too are taken at its tick, which may not have come since
        // view 2 was acknowledged.
        let monitorNow = try await scrapeOnceGauges(monitorMetrics, show: "kvservice_view_acknowledged", 1) {
            $0["kvservice_view_number"] == 2
        }
        XCTAssertEqual(monitorNow["kvservice_live_servers"], 2, monitorNow.text)
        XCTAssertEqual(monitorNow["kvservice_view_changes_total"], 2, monitorNow.text)
        XCTAssertGreaterThan(monitorNow["kvservice_pings_total"] ?? 0, 0, monitorNow.text)
    }

    /// The request histogram is kept outside the registry (one observation per request):
    /// its buckets are cumulative, end with +Inf, and its sum and count add up.
    func testTheRequestHistogramCountsEachObservationInItsBucket() async throws {
        let (factory, address, appendix) = try await startEndpoint()
        let metrics = ServerMetrics(factory: factory, appendix: appendix)
        for nanoseconds: Int64 in [50_000, 100_000, 300_000, 20_000_000_000] {
            metrics.requestAnswered(op: .get, status: .ok, nanoseconds: nanoseconds)
        }
        metrics.requestAnswered(op: .put, status: .retryLater, nanoseconds: 1_000)
        let samples = try await scrape(address)
        let labels = #"op="get",result="ok""#
        func bucket(_ bound: String) -> Double? {
            samples["kvservice_request_duration_seconds_bucket{\(labels),le=\"\(bound)\"}"]
        }
        XCTAssertEqual(bucket("0.0001"), 2, "50 µs and 100 µs (a bound is inclusive): \(samples.text)")
        XCTAssertEqual(bucket("0.00025"), 2, samples.text)
        XCTAssertEqual(bucket("0.0005"), 3, samples.text)
        XCTAssertEqual(bucket("10.0"), 3, "20 s is over the last bound: \(samples.text)")
        XCTAssertEqual(bucket("+Inf"), 4, samples.text)
        XCTAssertEqual(samples["kvservice_request_duration_seconds_count{\(labels)}"], 4, samples.text)
        let sum = try XCTUnwrap(samples["kvservice_request_duration_seconds_sum{\(labels)}"], samples.text)
        XCTAssertEqual(sum, 20.00045, accuracy: 1e-9)
        XCTAssertEqual(samples["kvservice_requests_total{\(labels)}"], 4, samples.text)
        XCTAssertEqual(samples[#"kvservice_requests_total{op="put",result="retry_later"}"#], 1, samples.text)
        XCTAssertEqual(samples[#"kvservice_requests_total{op="put",result="ok"}"#], nil, "unseen: not written")
        XCTAssertTrue(samples.text.contains("# TYPE kvservice_request_duration_seconds histogram"), samples.text)
    }

    /// The data directory's figures (issue 14): each fdatasync's duration and the records
    /// it made durable (the group commit's batch), and the log's gauges.
    func testTheLogsSyncsAndGaugesAreExported() async throws {
        let (factory, address, appendix) = try await startEndpoint()
        let metrics = ServerMetrics(factory: factory, appendix: appendix)
        metrics.logSynced(records: 25, nanoseconds: 300_000)
        metrics.logSynced(records: 15, nanoseconds: 500_000)
        metrics.updateStorage(logBytes: 4096, snapshotBytes: 1024, syncedLSN: 40, appendedBytes: 8192)
        let samples = try await scrape(address)
        XCTAssertEqual(samples["kvservice_log_sync_duration_seconds_count"], 2, samples.text)
        let seconds = try XCTUnwrap(samples["kvservice_log_sync_duration_seconds_sum"], samples.text)
        XCTAssertEqual(seconds, 0.0008, accuracy: 1e-9)
        XCTAssertEqual(samples["\(ServerMetrics.syncBatchLabel)_count"], 2, samples.text)
        XCTAssertEqual(samples["\(ServerMetrics.syncBatchLabel)_sum"], 40, samples.text)
        XCTAssertEqual(samples["kvservice_log_synced_lsn"], 40, samples.text)
        XCTAssertEqual(samples["kvservice_log_bytes"], 4096, samples.text)
        XCTAssertEqual(samples["kvservice_snapshot_bytes"], 1024, samples.text)
    }

    func testOnlyGetMetricsIsServed() async throws {
        let (factory, address, appendix) = try await startEndpoint()
        let metrics = ServerMetrics(factory: factory, appendix: appendix)
        metrics.requestAnswered(op: .put, status: .ok, nanoseconds: 1_000_000)

        let ok = try await MetricsScrape.request("GET", "/metrics", at: address, group: Shared.group)
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(ok.header("Content-Type"), MetricsEndpoint.contentType)
        XCTAssertTrue(ok.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let samples = Samples(text: ok.body)
        XCTAssertEqual(samples[#"kvservice_requests_total{op="put",result="ok"}"#], 1, ok.body)
        XCTAssertEqual(samples[#"kvservice_role{role="idle"}"#], 1, ok.body)
        XCTAssertTrue(ok.body.contains("# TYPE kvservice_requests_total counter"), ok.body)

        let withQuery = try await MetricsScrape.request("GET", "/metrics?x=1", at: address, group: Shared.group)
        XCTAssertEqual(withQuery.status, 200)
        let other = try await MetricsScrape.request("GET", "/other", at: address, group: Shared.group)
        XCTAssertEqual(other.status, 404)
        let post = try await MetricsScrape.request("POST", "/metrics", at: address, group: Shared.group)
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.header("Allow"), "GET, HEAD")
    }
}
