import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The real executables, stopped as systemd stops them: SIGTERM to kv-server hands its
/// role over before it exits, so a rolling restart (`systemctl restart kv-server@X`, one
/// at a time) fails no request of a client running throughout; and `kvctl switchover`
/// moves the primary role on request.
final class GracefulStopTests: XCTestCase {
    private func startServer(_ scratch: TestScratch, port: Int, monitorPort: Int) throws -> Child {
        try scratch.spawn(
            "kv-server", Binaries.server,
            ["--listen", "127.0.0.1:\(port)", "--monitor", "127.0.0.1:\(monitorPort)", "--log-target", "stderr"])
    }

    /// Polls `kvctl status` until it says healthy: an acknowledged view whose primary and
    /// backup are alive (the backup then holds the whole state).
    private func waitHealthy(_ scratch: TestScratch, monitor: String, within seconds: Double = 20) throws -> Bool {
        try waitUntil(seconds, poll: 0.05) {
            try scratch.kvctl(["status", "--monitor", monitor, "--timeout", "2"]).status == 0
        }
    }

    private func view(_ scratch: TestScratch, monitor: String) throws -> (primary: String, backup: String) {
        let out = try scratch.kvctl(["view", "--json", "--monitor", monitor, "--timeout", "5"]).stdout
        let object = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        return (object?["primary"] as? String ?? "", object?["backup"] as? String ?? "")
    }

    /// One client session made of kvctl runs: put, then get and check, on a few keys,
    /// until stopped. Counts runs that failed and reads that showed the wrong value.
    private final class KVCtlClientLoop: @unchecked Sendable {
        private let lock = NSLock()
        private var stopRequested = false
        private(set) var operations = 0
        private(set) var failures: [String] = []
        private(set) var expected: [String: String] = [:]
        private let done = DispatchSemaphore(value: 0)

        func start(_ scratch: TestScratch, monitor: String) {
            Thread.detachNewThread { [self] in
                var step = 0
                while !lock.withLock({ stopRequested }) {
                    step += 1
                    let key = "k\(step % 5)"
                    let value = "v\(step)"
                    do {
                        let put = try scratch.kvctl(["put", key, value, "--monitor", monitor, "--timeout", "20"])
                        if put.status != 0 {
                            record("put \(key): exit \(put.status) \(put.stderr)")
                            break
                        }
                        lock.withLock { expected[key] = value }
                        let get = try scratch.kvctl(["get", key, "--monitor", monitor, "--timeout", "20"])
                        if get.status != 0 || get.stdout != value + "\n" {
                            record("get \(key): exit \(get.status) \(get.stdout) \(get.stderr), want \(value)")
                            break
                        }
                        lock.withLock { operations += 2 }
                    } catch {
                        record("\(error)")
                        break
                    }
                }
                done.signal()
            }
        }

        var count: Int { lock.withLock { operations } }

        func stop() {
            lock.withLock { stopRequested = true }
            done.wait()
        }

        private func record(_ failure: String) { lock.withLock { failures.append(failure) } }
    }

    func testRollingRestartWithSIGTERMFailsNoRequestAndLosesNoWrite() throws {
        let scratch = makeScratch()
        let monitorPort = Loopback.freePort()
        let monitor = "127.0.0.1:\(monitorPort)"
        let monitorChild = try scratch.spawn(
            "kv-monitor", Binaries.monitor, ["--listen", monitor, "--log-target", "stderr"])
        let ports = (0..<3).map { _ in Loopback.freePort() }
        var servers = try ports.map { try startServer(scratch, port: $0, monitorPort: monitorPort) }
        XCTAssertTrue(try waitHealthy(scratch, monitor: monitor), monitorChild.outputSummary)

        let client = KVCtlClientLoop()
        client.start(scratch, monitor: monitor)
        for _ in 0..<ports.count {
            let before = client.count
            XCTAssertTrue(waitUntil(20) { client.count >= before + 4 }, "the client makes no progress")
            let (primary, backup) = try view(scratch, monitor: monitor)
            let index = try XCTUnwrap(ports.firstIndex { "127.0.0.1:\($0)" == primary }, "primary \(primary)")
            servers[index].signal(SIGTERM)
            XCTAssertTrue(servers[index].waitForExit(within: 15), "kv-server ignored SIGTERM")
            XCTAssertEqual(servers[index].exitCode, 0, servers[index].outputSummary)
            XCTAssertTrue(
                servers[index].stderr.contains("relieved of its role"),
                "it exited without handing over: \(servers[index].outputSummary)")
            XCTAssertEqual(try view(scratch, monitor: monitor).primary, backup, "the backup took over")
            servers[index] = try startServer(scratch, port: ports[index], monitorPort: monitorPort)
            XCTAssertTrue(try waitHealthy(scratch, monitor: monitor), "no healthy pair after restarting \(primary)")
        }
        client.stop()
        XCTAssertEqual(client.failures, [])
        XCTAssertGreaterThanOrEqual(client.operations, 12)
        for (key, value) in client.expected {
            let get = try scratch.kvctl(["get", key, "--monitor", monitor, "--timeout", "20"])
            XCTAssertEqual(get.stdout, value + "\n", "lost write of \(key)")
        }
    }

    func testKVCtlSwitchoverHandsThePrimaryRoleToTheBackup() throws {
        let scratch = makeScratch()
        let monitorPort = Loopback.freePort()
        let monitor = "127.0.0.1:\(monitorPort)"
        _ = try scratch.spawn("kv-monitor", Binaries.monitor, ["--listen", monitor, "--log-target", "stderr"])
        let first = try startServer(scratch, port: Loopback.freePort(), monitorPort: monitorPort)
        XCTAssertTrue(
            try waitUntil(20, poll: 0.05) {
                try scratch.kvctl(["wait", "--ready", "--monitor", monitor, "--timeout", "2"]).status == 0
            }, first.outputSummary)
        XCTAssertEqual(try scratch.kvctl(["put", "k", "v", "--monitor", monitor, "--timeout", "10"]).status, 0)

        let alone = try scratch.kvctl(["switchover", "--monitor", monitor, "--timeout", "5"])
        XCTAssertEqual(alone.status, 1, "no backup: refused")
        XCTAssertTrue(alone.stderr.contains("no backup"), alone.stderr)

        _ = try startServer(scratch, port: Loopback.freePort(), monitorPort: monitorPort)
        XCTAssertTrue(try waitHealthy(scratch, monitor: monitor))
        let (primary, backup) = try view(scratch, monitor: monitor)

        let wrongTarget = try scratch.kvctl(["switchover", "--to", primary, "--monitor", monitor, "--timeout", "5"])
        XCTAssertEqual(wrongTarget.status, 1, "--to names the primary, not the backup")

        let done = try scratch.kvctl(["switchover", "--to", backup, "--json", "--monitor", monitor, "--timeout", "20"])
        XCTAssertEqual(done.status, 0, done.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(done.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["primary"] as? String, backup)
        XCTAssertEqual(object?["backup"] as? String, primary, "the old primary is the new backup")
        XCTAssertEqual(object?["acked"] as? Bool, true, "kvctl waits for the acknowledgement")
        XCTAssertEqual(object?["previous_primary"] as? String, primary)
        XCTAssertEqual(try scratch.kvctl(["get", "k", "--monitor", monitor, "--timeout", "10"]).stdout, "v\n")

        let text = try scratch.kvctl(["switchover", "--monitor", monitor, "--timeout", "20"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("switched over: view "), text.stdout)
        XCTAssertEqual(try view(scratch, monitor: monitor).primary, primary, "and back again")
    }
}
