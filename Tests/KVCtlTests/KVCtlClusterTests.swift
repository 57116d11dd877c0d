import Foundation
import KVServices
import KVTransport
import Logging
import NIOPosix
import XCTest

/// kvctl's documented output and exit statuses against a live in-process cluster.
final class KVCtlClusterTests: InProcessClusterTestCase {
    private func kvctl(_ arguments: String...) throws -> KVCtlRun {
        try KVCtlProcess.run(arguments + ["--monitor", monitorAddress, "--timeout", "10"])
    }

    /// Polls `kvctl status` until it exits with `expected` (bounded).
    private func waitForStatus(_ expected: Int32, within seconds: Double = 10) throws -> KVCtlRun {
        let deadline = Date().addingTimeInterval(seconds)
        var last = try kvctl("status")
        while last.status != expected && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            last = try kvctl("status")
        }
        return last
    }

    func testDataCommandsPrintWhatTheDesignSays() async throws {
        try await addServer()
        try await addServer()
        XCTAssertEqual(try waitForStatus(0).status, 0)

        let put = try kvctl("put", "fruit", "apple")
        XCTAssertEqual(put.status, 0, put.stderr)
        XCTAssertEqual(put.stdout, "")
        let get = try kvctl("get", "fruit")
        XCTAssertEqual(get.status, 0)
        XCTAssertEqual(get.stdout, "apple\n")

        // puthash prints the previous value; the new one is FNV-1a-32("apple" + "pie").
        let putHash = try kvctl("puthash", "fruit", "pie")
        XCTAssertEqual(putHash.status, 0)
        XCTAssertEqual(putHash.stdout, "apple\n")
        var hash: UInt32 = 2_166_136_261
        for byte in "applepie".utf8 {
            hash ^= UInt32(byte)
            hash &*= 16_777_619
        }
        XCTAssertEqual(try kvctl("get", "fruit").stdout, "\(hash)\n")

        XCTAssertEqual(try kvctl("delete", "fruit").status, 0)
        let absent = try kvctl("get", "fruit")
        XCTAssertEqual(absent.status, 1)
        XCTAssertEqual(absent.stdout, "")
        XCTAssertTrue(absent.stderr.contains("fruit"), absent.stderr)
        XCTAssertEqual(try kvctl("delete", "fruit").status, 0, "delete of an absent key succeeds")
    }

    func testViewAndServersJSON() async throws {
        try await addServer()
        try await addServer()
        XCTAssertEqual(try waitForStatus(0).status, 0)

        let view = try kvctl("view", "--json")
        XCTAssertEqual(view.status, 0)
        let object = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(view.stdout.utf8)) as? [String: Any], view.stdout)
        XCTAssertEqual(object["viewnum"] as? Int, 2)
        let addresses = Set(servers.map { $0.configuration.advertise })
        XCTAssertTrue(addresses.contains(try XCTUnwrap(object["primary"] as? String)))
        XCTAssertTrue(addresses.contains(try XCTUnwrap(object["backup"] as? String)))
        XCTAssertNotEqual(object["primary"] as? String, object["backup"] as? String)

        let list = try kvctl("servers", "--json")
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

        let text = try kvctl("servers")
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdout.contains("ADDRESS"))
        XCTAssertTrue(text.stdout.contains("primary"))
    }

    func testStatusExitCodes() async throws {
        // No server yet: down.
        let down = try kvctl("status")
        XCTAssertEqual(down.status, 2)
        XCTAssertTrue(down.stdout.hasPrefix("down"), down.stdout)

        // A primary without backup: degraded.
        try await addServer()
        let degraded = try waitForStatus(1)
        XCTAssertEqual(degraded.status, 1)
        XCTAssertTrue(degraded.stdout.contains("no backup"), degraded.stdout)

        // Primary and acknowledged backup: healthy.
        try await addServer()
        let healthy = try waitForStatus(0)
        XCTAssertEqual(healthy.status, 0)
        XCTAssertTrue(healthy.stdout.hasPrefix("healthy"), healthy.stdout)
    }

    func testUnreachableMonitorTimesOutWithStatus2() throws {
        let started = Date()
        let run = try KVCtlProcess.run(["get", "k", "--monitor", "127.0.0.1:1", "--timeout", "0.5"])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("timed out"), run.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "the timeout bounds the run")
        let status = try KVCtlProcess.run(["status", "--monitor", "127.0.0.1:1"])
        XCTAssertEqual(status.status, 2)
        XCTAssertTrue(status.stdout.hasPrefix("down"), status.stdout)
    }

    func testNoPrimaryTimesOutWithStatus2() throws {
        // The monitor answers but no server has pinged: a data command cannot succeed.
        let run = try KVCtlProcess.run(["put", "k", "v", "--monitor", monitorAddress, "--timeout", "0.5"])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("no primary"), run.stderr)
    }
}
