import Foundation
import KVProtocol
import KVTestSupport
import XCTest

/// kvctl wait, watch, and values read from standard input, against a live cluster.
final class KVCtlAdminTests: KVCtlTestCase {
    private func kvctl(_ arguments: [String], input: [UInt8]? = nil) async throws -> ProcessResult {
        try await scratch.kvctl(arguments + ["--monitor", cluster.monitorAddress], input: input)
    }

    /// `kvctl wait --ready [--backup]`, which must succeed.
    private func waitReady(backup: Bool = false, file: StaticString = #filePath, line: UInt = #line) async throws {
        let wait = try await kvctl(["wait", "--ready", "--timeout", "10"] + (backup ? ["--backup"] : []))
        XCTAssertEqual(wait.status, 0, wait.stderr, file: file, line: line)
    }

    func testWaitReadyReturnsOnceThereIsAnAcknowledgedPrimary() async throws {
        let notYet = try await kvctl(["wait", "--ready", "--timeout", "0.5"])
        XCTAssertEqual(notYet.status, 2, "no server yet: times out")
        try await cluster.addServer()
        let ready = try await kvctl(["wait", "--ready", "--timeout", "10"])
        XCTAssertEqual(ready.status, 0, ready.stderr)
        XCTAssertTrue(ready.stdout.hasPrefix("ready: view 1"), ready.stdout)
    }

    func testWaitForBackupNeedsALiveBackup() async throws {
        try await cluster.addServer()
        try await waitReady()
        let noBackup = try await kvctl(["wait", "--ready", "--backup", "--timeout", "0.5"])
        XCTAssertEqual(noBackup.status, 2, "a single server has no backup")
        try await cluster.addServer()
        let ready = try await kvctl(["wait", "--ready", "--backup", "--timeout", "10"])
        XCTAssertEqual(ready.status, 0, ready.stderr)
        XCTAssertTrue(ready.stdout.contains("backup 127.0.0.1:"), ready.stdout)
    }

    /// A primary transferring the state to a new backup has not acknowledged its view, but
    /// the service is not down: `kvctl revive` is refused, says why, and exits 1.
    func testReviveIsRefusedWhileTheUnacknowledgedViewsPrimaryIsAlive() async throws {
        let cluster = self.cluster!
        let primary = try await cluster.addServer()
        try await cluster.waitForView(primary: primary, backup: nil)
        let firstBackup = try await cluster.addServer()
        try await cluster.waitForView(primary: primary, backup: firstBackup)
        // Idle until the first backup dies; its proxy then keeps the transfer from arriving.
        let next = try await cluster.addServer(viaProxy: true)
        let nextAddress = await cluster.address(next)
        try await waitUntil("the monitor knows the idle server") {
            await cluster.monitor?.servers().contains { $0.address == nextAddress && $0.alive } ?? false
        }
        try await cluster.proxy(next).block()
        await cluster.kill(firstBackup)
        try await waitUntil(
            "the idle server is the backup of a view not acknowledged", detail: { "\(await cluster.view())" }
        ) {
            let view = await cluster.view()
            return view.backup == nextAddress && !view.acked
        }
        let stuck = await cluster.view()
        let idle = try await cluster.addServer()
        let idleAddress = await cluster.address(idle)
        try await waitUntil("the monitor knows the server to revive") {
            await cluster.monitor?.servers().contains { $0.address == idleAddress && $0.alive } ?? false
        }
        let revive = try await kvctl(["revive", idleAddress, "--accept-data-loss", "--timeout", "10"])
        XCTAssertEqual(revive.status, 1, revive.stderr)
        XCTAssertTrue(
            revive.stderr.contains("revive refused: primary \(stuck.primary) of view \(stuck.viewnum) is alive"),
            revive.stderr)
        let after = await cluster.view()
        XCTAssertEqual(after.viewnum, stuck.viewnum, "the refused revive changed the view")
    }

    func testWatchPrintsEachViewChange() async throws {
        try await cluster.addServer()
        try await waitReady()
        // Watch until it has seen one change: view 2 (a backup joins); polling may see it
        // already acknowledged. Its output goes to a file, so the test can wait for the
        // first line (view 1) before making the change.
        let watch = try scratch.spawn(
            "kvctl-watch", Binaries.kvctl,
            ["watch", "--json", "--max-changes", "1", "--timeout", "20", "--monitor", cluster.monitorAddress])
        try await waitUntil("watch prints the first view", detail: { watch.outputSummary }) {
            watch.stdout.contains("\n")
        }
        try await cluster.addServer()
        try await watch.waitForExit(within: 20)
        XCTAssertEqual(watch.exitCode, 0)
        let output = watch.stdout
        let views = output.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        }
        XCTAssertEqual(views.count, 2, output)
        XCTAssertEqual(views.first?["viewnum"] as? Int, 1)
        XCTAssertEqual(views.first?["acked"] as? Bool, true)
        XCTAssertEqual(views.last?["viewnum"] as? Int, 2)
        XCTAssertFalse((views.last?["backup"] as? String ?? "").isEmpty)
    }

    func testPutReadsAValueOfAnyBytesFromStandardInput() async throws {
        try await cluster.addServer()
        try await waitReady()
        // Every byte value, newlines and NULs included, and more than one read's worth.
        var value = (0..<256).map { UInt8($0) }
        while value.count < 200_000 { value += value }
        let put = try await kvctl(["put", "blob", "-", "--timeout", "10"], input: value)
        XCTAssertEqual(put.status, 0, put.stderr)
        let get = try await kvctl(["get", "blob", "--timeout", "10"])
        XCTAssertEqual(get.stdoutBytes, value + [0x0A], "get prints the exact bytes and a newline")

        let hash = try await kvctl(["puthash", "blob", "-", "--timeout", "10"], input: Array("x".utf8))
        XCTAssertEqual(hash.status, 0, hash.stderr)
    }

    func testServerInfoReportsRoleDataAndCounters() async throws {
        try await cluster.addServer()
        try await cluster.addServer()
        try await waitReady(backup: true)
        let put = try await kvctl(["put", "k", "vvvv", "--timeout", "10"])
        XCTAssertEqual(put.status, 0, put.stderr)
        let view = try await kvctl(["view", "--json"])
        let viewObject = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(view.stdout.utf8)) as? [String: Any])
        let primary = try XCTUnwrap(viewObject["primary"] as? String)
        let backup = try XCTUnwrap(viewObject["backup"] as? String)

        let run = try await scratch.kvctl(["server-info", primary, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(info["role"] as? String, "primary")
        XCTAssertEqual(info["serving"] as? Bool, true)
        XCTAssertEqual(info["backup_synchronized"] as? Bool, true)
        XCTAssertEqual(info["keys"] as? Int, 1)
        XCTAssertEqual(info["bytes"] as? Int, 5)
        XCTAssertEqual(info["duplicates"] as? Int, 1)
        // At least the put; a slow attempt may have been sent again (answered from the
        // duplicate table, counted twice).
        XCTAssertGreaterThanOrEqual(info["requests"] as? Int ?? 0, 1)
        XCTAssertEqual(info["transfers_completed"] as? Int, 1)
        XCTAssertGreaterThanOrEqual(info["batches_sent"] as? Int ?? 0, 1)
        XCTAssertGreaterThanOrEqual(info["connections"] as? Int ?? 0, 1, "at least kvctl's own")

        let backupRun = try await scratch.kvctl(["server-info", backup])
        XCTAssertEqual(backupRun.status, 0, backupRun.stderr)
        XCTAssertTrue(backupRun.stdout.contains("role:"), backupRun.stdout)
        XCTAssertTrue(backupRun.stdout.contains("backup"), backupRun.stdout)
        XCTAssertTrue(backupRun.stdout.contains("transfers received:"), backupRun.stdout)

        let unreachable = try await scratch.kvctl(["server-info", "127.0.0.1:1", "--timeout", "0.5"])
        XCTAssertEqual(unreachable.status, 2)
        XCTAssertTrue(unreachable.stderr.contains("does not answer"), unreachable.stderr)
        let nonsense = try await scratch.kvctl(["server-info", "nonsense"])
        XCTAssertEqual(nonsense.status, 64)
    }

    /// With a data directory, server-info says where it is, its policy, the sizes, the
    /// synced position and the claim (docs/STORAGE.md); without one, that it has none.
    func testServerInfoReportsTheDataDirectoryAndTheClaim() async throws {
        let directory = scratch.path("data-0")
        try await cluster.addServer(dataDirectory: directory, fsync: .always)
        try await waitReady()
        for index in 0..<3 {
            let put = try await kvctl(["put", "k\(index)", "value", "--timeout", "10"])
            XCTAssertEqual(put.status, 0, put.stderr)
        }
        let primary = await cluster.view().primary

        let run = try await scratch.kvctl(["server-info", primary, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let storage = try XCTUnwrap(info["storage"] as? [String: Any], run.stdout)
        XCTAssertEqual(storage["data_dir"] as? String, directory)
        XCTAssertEqual(storage["fsync"] as? String, "always")
        // The three puts were answered: under always, each was synced first.
        let synced = try XCTUnwrap(storage["last_synced_lsn"] as? Int)
        XCTAssertGreaterThanOrEqual(synced, 3)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(storage["last_written_lsn"] as? Int), synced)
        XCTAssertGreaterThan(try XCTUnwrap(storage["log_bytes"] as? Int), 0)
        XCTAssertNotNil(storage["snapshot_bytes"] as? Int)
        let claim = try XCTUnwrap(storage["claim"] as? [String: Any], "a primary that served claims its view")
        XCTAssertEqual(claim["role"] as? String, "primary")
        XCTAssertEqual(claim["primary"] as? String, primary)
        XCTAssertEqual(claim["viewnum"] as? Int, info["viewnum"] as? Int)
        XCTAssertTrue((storage["at_start"] as? String ?? "").contains("new data directory"), run.stdout)

        let text = try await scratch.kvctl(["server-info", primary])
        XCTAssertEqual(text.status, 0, text.stderr)
        for line in ["data directory: ", "fsync: ", "log written / synced (LSN): ", "claim: "] {
            XCTAssertTrue(text.stdout.contains(line), "no \"\(line)\" in:\n\(text.stdout)")
        }
        XCTAssertTrue(text.stdout.contains(directory), text.stdout)
        XCTAssertTrue(text.stdout.contains("primary of view"), text.stdout)

        let memoryOnly = try await cluster.addServer()
        let idle = try await scratch.kvctl(["server-info", cluster.address(memoryOnly), "--json"])
        XCTAssertEqual(idle.status, 0, idle.stderr)
        let idleInfo = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(idle.stdout.utf8)) as? [String: Any])
        XCTAssertTrue(idleInfo["storage"] is NSNull, idle.stdout)
    }

    func testOversizedValueOnStandardInputIsRefusedBeforeSending() async throws {
        try await cluster.addServer()
        try await waitReady()
        let tooBig = [UInt8](repeating: 0, count: Limits.maxValueSize + 1)
        let put = try await kvctl(["put", "big", "-", "--timeout", "10"], input: tooBig)
        XCTAssertEqual(put.status, 1)
        XCTAssertTrue(put.stderr.contains("exceeds the limit"), put.stderr)
        let get = try await kvctl(["get", "big", "--timeout", "10"])
        XCTAssertEqual(get.status, 1, "nothing was stored")
    }
}
