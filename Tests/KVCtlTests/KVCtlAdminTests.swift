import Foundation
import KVProtocol
import KVServices
import KVTransport
import Logging
import NIOPosix
import XCTest

/// kvctl wait, watch, and values read from standard input, against a live cluster.
final class KVCtlAdminTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var monitor: MonitorNode!
    private var servers: [ServerNode] = []
    private var monitorAddress: String { monitor.localAddress!.description }

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        monitor = try await MonitorNode.start(
            configuration: .init(listen: .bind(PeerAddress(host: "127.0.0.1", port: 0))), group: group,
            logger: Self.quietLogger)
    }

    override func tearDown() async throws {
        for server in servers { await server.crash() }
        await monitor.stop()
        try await group.shutdownGracefully()
    }

    private static var quietLogger: Logger {
        var logger = Logger(label: "kvctl-tests")
        logger.logLevel = .critical
        return logger
    }

    private func addServer() async throws {
        let probe = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        servers.append(
            try await ServerNode.start(
                configuration: .init(
                    listen: .bind(PeerAddress(host: "127.0.0.1", port: port)), advertise: "127.0.0.1:\(port)",
                    monitor: monitorAddress),
                group: group, logger: Self.quietLogger))
    }

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
