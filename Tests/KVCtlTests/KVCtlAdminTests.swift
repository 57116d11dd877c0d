import Foundation
import KVProtocol
import KVServices
import KVTransport
import Logging
import NIOPosix
import XCTest

/// kvctl wait, watch, and values read from standard input, against a live cluster.
final class KVCtlAdminTests: InProcessClusterTestCase {
    private func kvctl(_ arguments: [String], input: Data? = nil) throws -> KVCtlRun {
        try KVCtlProcess.run(arguments + ["--monitor", monitorAddress], input: input)
    }

    func testWaitReadyReturnsOnceThereIsAnAcknowledgedPrimary() async throws {
        let notYet = try kvctl(["wait", "--ready", "--timeout", "0.5"])
        XCTAssertEqual(notYet.status, 2, "no server yet: times out")
        try await addServer()
        let ready = try kvctl(["wait", "--ready", "--timeout", "10"])
        XCTAssertEqual(ready.status, 0, ready.stderr)
        XCTAssertTrue(ready.stdout.hasPrefix("ready: view 1"), ready.stdout)
    }

    func testWaitForBackupNeedsALiveBackup() async throws {
        try await addServer()
        XCTAssertEqual(try kvctl(["wait", "--ready", "--timeout", "10"]).status, 0)
        let noBackup = try kvctl(["wait", "--ready", "--backup", "--timeout", "0.5"])
        XCTAssertEqual(noBackup.status, 2, "a single server has no backup")
        try await addServer()
        let ready = try kvctl(["wait", "--ready", "--backup", "--timeout", "10"])
        XCTAssertEqual(ready.status, 0, ready.stderr)
        XCTAssertTrue(ready.stdout.contains("backup 127.0.0.1:"), ready.stdout)
    }

    func testWatchPrintsEachViewChange() async throws {
        try await addServer()
        XCTAssertEqual(try kvctl(["wait", "--ready", "--timeout", "10"]).status, 0)
        // Watch until it has seen one change: view 2 (a backup joins); polling may see it
        // already acknowledged. Its output goes to a file, so the test can wait for the
        // first line (view 1) before making the change.
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("kvctl-watch-\(UUID().uuidString)").path
        XCTAssertTrue(FileManager.default.createFile(atPath: outputPath, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let process = Process()
        process.executableURL = KVCtlProcess.binary
        process.arguments = ["watch", "--json", "--max-changes", "1", "--timeout", "20", "--monitor", monitorAddress]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let firstLineDeadline = Date().addingTimeInterval(10)
        while (try? String(contentsOfFile: outputPath, encoding: .utf8))?.contains("\n") != true {
            XCTAssertLessThan(Date(), firstLineDeadline, "watch printed nothing")
            if Date() >= firstLineDeadline { return }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        try await addServer()
        let exitDeadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < exitDeadline { try await Task.sleep(nanoseconds: 20_000_000) }
        guard !process.isRunning else { return XCTFail("watch did not exit after the change") }
        XCTAssertEqual(process.terminationStatus, 0)
        let run = KVCtlRun(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "", stderr: "")
        let views = run.stdout.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        }
        XCTAssertEqual(views.count, 2, run.stdout)
        XCTAssertEqual(views.first?["viewnum"] as? Int, 1)
        XCTAssertEqual(views.first?["acked"] as? Bool, true)
        XCTAssertEqual(views.last?["viewnum"] as? Int, 2)
        XCTAssertFalse((views.last?["backup"] as? String ?? "").isEmpty)
    }

    func testPutReadsAValueOfAnyBytesFromStandardInput() async throws {
        try await addServer()
        XCTAssertEqual(try kvctl(["wait", "--ready", "--timeout", "10"]).status, 0)
        // Every byte value, newlines and NULs included, and more than one read's worth.
        var value = Data((0..<256).map { UInt8($0) })
        while value.count < 200_000 { value.append(value) }
        let put = try kvctl(["put", "blob", "-", "--timeout", "10"], input: value)
        XCTAssertEqual(put.status, 0, put.stderr)
        let get = try KVCtlProcessBytes.get("blob", monitor: monitorAddress)
        XCTAssertEqual(get, value + Data([0x0A]), "get prints the exact bytes and a newline")

        let hash = try kvctl(["puthash", "blob", "-", "--timeout", "10"], input: Data("x".utf8))
        XCTAssertEqual(hash.status, 0, hash.stderr)
    }

    func testServerInfoReportsRoleDataAndCounters() async throws {
        try await addServer()
        try await addServer()
        XCTAssertEqual(try kvctl(["wait", "--ready", "--backup", "--timeout", "10"]).status, 0)
        XCTAssertEqual(try kvctl(["put", "k", "vvvv", "--timeout", "10"]).status, 0)
        let view = try kvctl(["view", "--json"])
        let viewObject = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(view.stdout.utf8)) as? [String: Any])
        let primary = try XCTUnwrap(viewObject["primary"] as? String)
        let backup = try XCTUnwrap(viewObject["backup"] as? String)

        let run = try KVCtlProcess.run(["server-info", primary, "--json"])
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

        let backupRun = try KVCtlProcess.run(["server-info", backup])
        XCTAssertEqual(backupRun.status, 0, backupRun.stderr)
        XCTAssertTrue(backupRun.stdout.contains("role:"), backupRun.stdout)
        XCTAssertTrue(backupRun.stdout.contains("backup"), backupRun.stdout)
        XCTAssertTrue(backupRun.stdout.contains("transfers received:"), backupRun.stdout)

        let unreachable = try KVCtlProcess.run(["server-info", "127.0.0.1:1", "--timeout", "0.5"])
        XCTAssertEqual(unreachable.status, 2)
        XCTAssertTrue(unreachable.stderr.contains("does not answer"), unreachable.stderr)
        XCTAssertEqual(try KVCtlProcess.run(["server-info", "nonsense"]).status, 64)
    }

    func testOversizedValueOnStandardInputIsRefusedBeforeSending() async throws {
        try await addServer()
        XCTAssertEqual(try kvctl(["wait", "--ready", "--timeout", "10"]).status, 0)
        let tooBig = Data(count: Limits.maxValueSize + 1)
        let put = try kvctl(["put", "big", "-", "--timeout", "10"], input: tooBig)
        XCTAssertEqual(put.status, 1)
        XCTAssertTrue(put.stderr.contains("exceeds the limit"), put.stderr)
        XCTAssertEqual(try kvctl(["get", "big", "--timeout", "10"]).status, 1, "nothing was stored")
    }
}

/// `kvctl get` with its raw stdout bytes (values need not be UTF-8).
enum KVCtlProcessBytes {
    static func get(_ key: String, monitor: String) throws -> Data {
        let process = Process()
        process.executableURL = KVCtlProcess.binary
        process.arguments = ["get", key, "--monitor", monitor, "--timeout", "10"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }
}
