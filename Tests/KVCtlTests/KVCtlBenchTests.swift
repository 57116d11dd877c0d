import Foundation
import KVTestSupport
import XCTest

/// `kvctl bench` against a live in-process cluster: its report adds up, and bad flags or
/// an unreachable service end it with a clear message.
final class KVCtlBenchTests: KVCtlTestCase {
    private var monitorAddress: String { cluster.monitorAddress }

    private func startPair() async throws {
        try await cluster.addServer()
        try await cluster.addServer()
        let ready = try await scratch.kvctl(["wait", "--backup", "--monitor", monitorAddress, "--timeout", "10"])
        XCTAssertEqual(ready.status, 0, ready.stderr)
    }

    func testJSONReportAddsUp() async throws {
        try await startPair()
        let run = try await scratch.kvctl(
            [
                "bench", "--monitor", monitorAddress, "--timeout", "10", "--json", "--ops", "400", "--warmup", "0",
                "--sessions", "8", "--keys", "50", "--value-size", "32", "--connections", "2",
            ], timeout: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout)

        XCTAssertEqual(report["ops"] as? Int, 400, "--ops measures exactly that many operations")
        XCTAssertEqual(report["sessions"] as? Int, 8)
        XCTAssertEqual(report["connections"] as? Int, 2)
        XCTAssertEqual(report["errors"] as? Int, 0)
        XCTAssertEqual(report["get_misses"] as? Int, 0, "every key was preloaded, so every get finds a value")
        let errorsByKind = try XCTUnwrap(report["errors_by_kind"] as? [String: Int])
        XCTAssertEqual(Set(errorsByKind.keys), ["timeout", "invalid", "stale_request", "other"])
        XCTAssertEqual(errorsByKind.values.reduce(0, +), 0)
        XCTAssertGreaterThan(try XCTUnwrap(report["ops_per_s"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(report["duration_s"] as? Double), 0)

        let operations = try XCTUnwrap(report["operations"] as? [String: [String: Any]])
        XCTAssertEqual(Set(operations.keys), ["get", "put", "puthash"], "the default mix has all three")
        var sum = 0
        for (name, figures) in operations {
            let ops = try XCTUnwrap(figures["ops"] as? Int, name)
            sum += ops
            guard ops > 0 else { continue }
            let percentiles = try ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"].map { field in
                try XCTUnwrap(figures[field] as? Int, "\(name).\(field)")
            }
            XCTAssertGreaterThan(percentiles[0], 0, "\(name): a round trip takes at least a microsecond")
            XCTAssertEqual(percentiles, percentiles.sorted(), "\(name): p50 <= p90 <= p99 <= p99.9 <= max")
        }
        XCTAssertEqual(sum, 400, "the operations' counts add up to the total")
    }

    func testTextReportHasARowPerOperationInTheMix() async throws {
        try await startPair()
        let run = try await scratch.kvctl(
            [
                "bench", "--monitor", monitorAddress, "--timeout", "10", "--ops", "60", "--warmup", "0",
                "--sessions", "4", "--mix", "put=1,puthash=1",
            ], timeout: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.first { $0.hasPrefix("OP ") }, run.stdout)
        for column in ["OPS", "OPS/S", "P50", "P90", "P99", "P99.9", "MAX"] {
            XCTAssertTrue(header.split(separator: " ").contains(Substring(column)), "header lacks \(column)")
        }
        XCTAssertTrue(lines.contains { $0.hasPrefix("put ") }, run.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("puthash ") }, run.stdout)
        XCTAssertFalse(lines.contains { $0.hasPrefix("get ") }, "get is not in the mix: \(run.stdout)")
        XCTAssertTrue(run.stdout.contains("microseconds"), "the unit is stated")
        XCTAssertTrue(run.stdout.contains(" 60 ops"), run.stdout)
    }

    func testUnreachableServiceExitsWithStatus2() async throws {
        let closedPort = try Loopback.freePort()
        let run = try await scratch.kvctl([
            "bench", "--monitor", "127.0.0.1:\(closedPort)", "--timeout", "1", "--ops", "10",
        ])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("does not answer"), run.stderr)
        XCTAssertEqual(run.stdout, "")
    }

    func testBadFlagsAreUsageErrors() async throws {
        let cases: [([String], String)] = [
            (["--sessions", "0"], "--sessions"),
            (["--mix", "get=50,scan=50"], "scan=50"),
            (["--mix", "get=x"], "weight of get"),
            (["--mix", "get=0,put=0"], "positive weight"),
            (["--mix", "get=1,get=2"], "twice"),
            (["--ops", "10", "--duration", "5"], "not both"),
            (["--ops", "0"], "--ops"),
            (["--connections", "3", "--sessions", "2"], "--connections"),
            (["--value-size", "-1"], "--value-size"),
        ]
        for (flags, expected) in cases {
            let run = try await scratch.kvctl(["bench", "--monitor", "127.0.0.1:1"] + flags)
            XCTAssertEqual(run.status, 64, "exit status of kvctl bench \(flags)")
            XCTAssertTrue(
                run.stderr.contains(expected),
                "stderr of kvctl bench \(flags) should mention \(expected): \(run.stderr)")
            XCTAssertEqual(run.stdout, "")
        }
    }
}
