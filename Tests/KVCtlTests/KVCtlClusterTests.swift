import Foundation
import KVTestSupport
import XCTest

/// kvctl's documented output and exit statuses against a live in-process cluster.
final class KVCtlClusterTests: KVCtlTestCase {
    private func kvctl(_ arguments: String...) async throws -> ProcessResult {
        try await scratch.kvctl(arguments + ["--monitor", cluster.monitorAddress, "--timeout", "10"])
    }

    /// Runs `kvctl status` until it exits with `expected`; returns that run.
    private func waitForStatus(_ expected: Int32, within seconds: Double = 10) async throws -> ProcessResult {
        var last = try await kvctl("status")
        try await waitUntil(
            "kvctl status exits with \(expected)", timeout: seconds, interval: 0.1,
            detail: { "exit \(last.status): \(last.stdout)" }
        ) {
            if last.status == expected { return true }
            last = try await kvctl("status")
            return last.status == expected
        }
        return last
    }

    func testDataCommandsPrintWhatTheDesignSays() async throws {
        try await cluster.addServer()
        try await cluster.addServer()
        let healthy = try await waitForStatus(0)
        XCTAssertEqual(healthy.status, 0)

        let put = try await kvctl("put", "fruit", "apple")
        XCTAssertEqual(put.status, 0, put.stderr)
        XCTAssertEqual(put.stdout, "")
        let get = try await kvctl("get", "fruit")
        XCTAssertEqual(get.status, 0)
        XCTAssertEqual(get.stdout, "apple\n")

        // puthash prints the previous value; the new one is FNV-1a-32("apple" + "pie").
        let putHash = try await kvctl("puthash", "fruit", "pie")
        XCTAssertEqual(putHash.status, 0)
        XCTAssertEqual(putHash.stdout, "apple\n")
        var hash: UInt32 = 2_166_136_261
        for byte in "applepie".utf8 {
            hash ^= UInt32(byte)
            hash &*= 16_777_619
        }
        let hashed = try await kvctl("get", "fruit")
        XCTAssertEqual(hashed.stdout, "\(hash)\n")

        let delete = try await kvctl("delete", "fruit")
        XCTAssertEqual(delete.status, 0)
        let absent = try await kvctl("get", "fruit")
        XCTAssertEqual(absent.status, 1)
        XCTAssertEqual(absent.stdout, "")
        XCTAssertTrue(absent.stderr.contains("fruit"), absent.stderr)
        let deleteAbsent = try await kvctl("delete", "fruit")
        XCTAssertEqual(deleteAbsent.status, 0, "delete of an absent key succeeds")
    }

    func testViewAndServersJSON() async throws {
        try await cluster.addServer()
        try await cluster.addServer()
        let healthy = try await waitForStatus(0)
        XCTAssertEqual(healthy.status, 0)

        let view = try await kvctl("view", "--json")
        XCTAssertEqual(view.status, 0)
        let object = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(view.stdout.utf8)) as? [String: Any], view.stdout)
        XCTAssertEqual(object["viewnum"] as? Int, 2)
        let addresses: Set = [await cluster.address(0), await cluster.address(1)]
        XCTAssertTrue(addresses.contains(try XCTUnwrap(object["primary"] as? String)))
        XCTAssertTrue(addresses.contains(try XCTUnwrap(object["backup"] as? String)))
        XCTAssertNotEqual(object["primary"] as? String, object["backup"] as? String)

        let list = try await kvctl("servers", "--json")
        XCTAssertEqual(list.status, 0)
        let listed = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any], list.stdout)
        let entries = try XCTUnwrap(listed["servers"] as? [[String: Any]])
        XCTAssertEqual(Set(entries.compactMap { $0["address"] as? String }), addresses)
        XCTAssertEqual(Set(entries.compactMap { $0["role"] as? String }), ["primary", "backup"])
        for entry in entries {
            XCTAssertEqual(entry["alive"] as? Bool, true)
            XCTAssertNotNil(entry["last_ping_ms"] as? Int)
        }

        let text = try await kvctl("servers")
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdout.contains("ADDRESS"))
        XCTAssertTrue(text.stdout.contains("primary"))
    }

    func testStatusExitCodes() async throws {
        // No server yet: down.
        let down = try await kvctl("status")
        XCTAssertEqual(down.status, 2)
        XCTAssertTrue(down.stdout.hasPrefix("down"), down.stdout)

        // A primary without backup: degraded.
        try await cluster.addServer()
        let degraded = try await waitForStatus(1)
        XCTAssertEqual(degraded.status, 1)
        XCTAssertTrue(degraded.stdout.contains("no backup"), degraded.stdout)

        // Primary and acknowledged backup: healthy.
        try await cluster.addServer()
        let healthy = try await waitForStatus(0)
        XCTAssertEqual(healthy.status, 0)
        XCTAssertTrue(healthy.stdout.hasPrefix("healthy"), healthy.stdout)
    }

    func testUnreachableMonitorTimesOutWithStatus2() async throws {
        let started = Date()
        let run = try await scratch.kvctl(["get", "k", "--monitor", "127.0.0.1:1", "--timeout", "0.5"])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("timed out"), run.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "the timeout bounds the run")
        let status = try await scratch.kvctl(["status", "--monitor", "127.0.0.1:1"])
        XCTAssertEqual(status.status, 2)
        XCTAssertTrue(status.stdout.hasPrefix("down"), status.stdout)
    }

    func testNoPrimaryTimesOutWithStatus2() async throws {
        // The monitor answers but no server has pinged: a data command cannot succeed.
        let run = try await scratch.kvctl(["put", "k", "v", "--monitor", cluster.monitorAddress, "--timeout", "0.5"])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("no primary"), run.stderr)
    }
}
