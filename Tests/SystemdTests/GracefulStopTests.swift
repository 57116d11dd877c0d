import Foundation
import KVTestSupport
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

    /// Waits until `kvctl status` says healthy: an acknowledged view whose primary and
    /// backup are alive (the backup then holds the whole state).
    private func waitHealthy(
        _ scratch: TestScratch, monitor: String, within seconds: Double = 20, detail: (() async -> String)? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        try await waitUntil(
            "kvctl status says healthy", timeout: seconds, interval: 0.05, detail: detail,
            file: file, line: line
        ) {
            try await scratch.kvctl(["status", "--monitor", monitor, "--timeout", "2"]).status == 0
        }
    }

    private func view(_ scratch: TestScratch, monitor: String) async throws -> (primary: String, backup: String) {
        let out = try await scratch.kvctl(["view", "--json", "--monitor", monitor, "--timeout", "5"]).stdout
        let object = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        return (object?["primary"] as? String ?? "", object?["backup"] as? String ?? "")
    }

    /// One client session made of kvctl runs: put, then get and check, on a few keys,
    /// until stopped. Counts runs that failed and reads that showed the wrong value.
    private final class KVCtlClientLoop: Sendable {
        private struct State {
            var stopRequested = false
            var operations = 0
            var failures: [String] = []
            var expected: [String: String] = [:]
        }

        private let state = Locked(State())
        private let task = Locked<Task<Void, Never>?>(nil)

        func start(_ scratch: TestScratch, monitor: String) {
            task.set(Task { await self.run(scratch, monitor: monitor) })
        }

        private func run(_ scratch: TestScratch, monitor: String) async {
            var step = 0
            while !state.get().stopRequested {
                step += 1
                let key = "k\(step % 5)"
                let value = "v\(step)"
                do {
                    let put = try await scratch.kvctl(["put", key, value, "--monitor", monitor, "--timeout", "20"])
                    if put.status != 0 {
                        record("put \(key): exit \(put.status) \(put.stderr)")
                        return
                    }
                    state.update { $0.expected[key] = value }
                    let get = try await scratch.kvctl(["get", key, "--monitor", monitor, "--timeout", "20"])
                    if get.status != 0 || get.stdout != value + "\n" {
                        record("get \(key): exit \(get.status) \(get.stdout) \(get.stderr), want \(value)")
                        return
                    }
                    state.update { $0.operations += 2 }
                } catch {
                    record("\(error)")
                    return
                }
            }
        }

        var operations: Int { state.get().operations }
        var failures: [String] { state.get().failures }
        var expected: [String: String] { state.get().expected }

        func stop() async {
            state.update { $0.stopRequested = true }
            await task.get()?.value
        }

        private func record(_ failure: String) { state.update { $0.failures.append(failure) } }
    }

    func testRollingRestartWithSIGTERMFailsNoRequestAndLosesNoWrite() async throws {
        let scratch = try makeScratch()
        // Below the ephemeral range, and distinct: each server is restarted on its port,
        // which a connection made meanwhile could otherwise take as its source port.
        var taken = Set<Int>()
        let monitorPort = try Loopback.freePortBelowEphemeralRange()
        taken.insert(monitorPort)
        let monitor = "127.0.0.1:\(monitorPort)"
        let monitorChild = try scratch.spawn(
            "kv-monitor", Binaries.monitor, ["--listen", monitor, "--log-target", "stderr"])
        let ports = try (0..<3).map { _ in
            let port = try Loopback.freePortBelowEphemeralRange(avoiding: taken)
            taken.insert(port)
            return port
        }
        var servers = try ports.map { try startServer(scratch, port: $0, monitorPort: monitorPort) }
        try await waitHealthy(scratch, monitor: monitor, detail: { monitorChild.outputSummary })

        let client = KVCtlClientLoop()
        client.start(scratch, monitor: monitor)
        for _ in 0..<ports.count {
            let before = client.operations
            try await waitUntil("the client makes progress", timeout: 20, detail: { "\(client.failures)" }) {
                client.operations >= before + 4
            }
            let (primary, backup) = try await view(scratch, monitor: monitor)
            let index = try XCTUnwrap(ports.firstIndex { "127.0.0.1:\($0)" == primary }, "primary \(primary)")
            servers[index].signal(SIGTERM)
            try await servers[index].waitForExit(within: 15)
            XCTAssertEqual(servers[index].exitCode, 0, servers[index].outputSummary)
            XCTAssertTrue(
                servers[index].stderr.contains("relieved of its role"),
                "it exited without handing over: \(servers[index].outputSummary)")
            let after = try await view(scratch, monitor: monitor)
            XCTAssertEqual(after.primary, backup, "the backup took over")
            servers[index] = try startServer(scratch, port: ports[index], monitorPort: monitorPort)
            try await waitHealthy(scratch, monitor: monitor, detail: { "after restarting \(primary)" })
        }
        await client.stop()
        XCTAssertEqual(client.failures, [])
        XCTAssertGreaterThanOrEqual(client.operations, 12)
        for (key, value) in client.expected {
            let get = try await scratch.kvctl(["get", key, "--monitor", monitor, "--timeout", "20"])
            XCTAssertEqual(get.stdout, value + "\n", "lost write of \(key)")
        }
    }

    func testKVCtlSwitchoverHandsThePrimaryRoleToTheBackup() async throws {
        let scratch = try makeScratch()
        let monitorPort = try Loopback.freePort()
        let monitor = "127.0.0.1:\(monitorPort)"
        _ = try scratch.spawn("kv-monitor", Binaries.monitor, ["--listen", monitor, "--log-target", "stderr"])
        let first = try startServer(scratch, port: try Loopback.freePort(), monitorPort: monitorPort)
        try await waitUntil("kvctl wait --ready succeeds", timeout: 20, interval: 0.05, detail: { first.outputSummary })
        {
            try await scratch.kvctl(["wait", "--ready", "--monitor", monitor, "--timeout", "2"]).status == 0
        }
        let put = try await scratch.kvctl(["put", "k", "v", "--monitor", monitor, "--timeout", "10"])
        XCTAssertEqual(put.status, 0, put.stderr)

        let alone = try await scratch.kvctl(["switchover", "--monitor", monitor, "--timeout", "5"])
        XCTAssertEqual(alone.status, 1, "no backup: refused")
        XCTAssertTrue(alone.stderr.contains("no backup"), alone.stderr)

        _ = try startServer(scratch, port: try Loopback.freePort(), monitorPort: monitorPort)
        try await waitHealthy(scratch, monitor: monitor)
        let (primary, backup) = try await view(scratch, monitor: monitor)

        let wrongTarget = try await scratch.kvctl([
            "switchover", "--to", primary, "--monitor", monitor, "--timeout", "5",
        ])
        XCTAssertEqual(wrongTarget.status, 1, "--to names the primary, not the backup")

        let done = try await scratch.kvctl([
            "switchover", "--to", backup, "--json", "--monitor", monitor, "--timeout", "20",
        ])
        XCTAssertEqual(done.status, 0, done.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(done.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["primary"] as? String, backup)
        XCTAssertEqual(object?["backup"] as? String, primary, "the old primary is the new backup")
        XCTAssertEqual(object?["acked"] as? Bool, true, "kvctl waits for the acknowledgement")
        XCTAssertEqual(object?["previous_primary"] as? String, primary)
        let get = try await scratch.kvctl(["get", "k", "--monitor", monitor, "--timeout", "10"])
        XCTAssertEqual(get.stdout, "v\n")

        let text = try await scratch.kvctl(["switchover", "--monitor", monitor, "--timeout", "20"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("switched over: view "), text.stdout)
        let back = try await view(scratch, monitor: monitor)
        XCTAssertEqual(back.primary, primary, "and back again")
    }
}
