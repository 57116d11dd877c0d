import DaemonSupport
import Foundation
import KVTestSupport
import XCTest

/// kv-server's Redis-protocol endpoint with Debian's real Redis clients (package
/// redis-tools): redis-cli for single commands and INFO, redis-benchmark for pipelined
/// load from many connections, against real kv-monitor and kv-server processes.
final class RedisClientTests: XCTestCase {
    private struct Cluster {
        var monitor: String
        /// The Redis-protocol ports of the two servers, primary first.
        var primaryRESP: Int
        var backupRESP: Int
        var primary: String
    }

    private func tools() throws -> (cli: String, benchmark: String) {
        guard let cli = Binaries.tool("redis-cli"), let benchmark = Binaries.tool("redis-benchmark") else {
            throw XCTSkip("redis-cli and redis-benchmark are not installed (Debian package redis-tools)")
        }
        return (cli, benchmark)
    }

    /// A monitor and two servers with `--resp-listen`; returns once the first server is a
    /// primary with a synchronised backup.
    private func startCluster(_ scratch: TestScratch) async throws -> Cluster {
        let monitor = "127.0.0.1:\(try Loopback.freePort())"
        let monitorChild = try scratch.spawn(
            "kv-monitor", Binaries.monitor, ["--listen", monitor, "--log-target", "stderr"])
        var servers: [(address: String, resp: Int)] = []
        for index in 0..<2 {
            let address = "127.0.0.1:\(try Loopback.freePort())"
            let resp = try Loopback.freePort()
            _ = try scratch.spawn(
                "kv-server", Binaries.server,
                [
                    "--listen", address, "--monitor", monitor, "--resp-listen", "127.0.0.1:\(resp)", "--log-target",
                    "stderr",
                ])
            servers.append((address, resp))
            // The first one becomes primary: wait for it before starting the second.
            if index == 0 {
                try await waitUntil(
                    "kvctl wait --ready succeeds", timeout: 20, interval: 0.05, detail: { monitorChild.outputSummary }
                ) {
                    try await scratch.kvctl(["wait", "--ready", "--monitor", monitor, "--timeout", "2"]).status == 0
                }
            }
        }
        try await waitUntil(
            "kvctl status says healthy (a synchronised pair)", timeout: 20, interval: 0.05,
            detail: { monitorChild.outputSummary }
        ) {
            try await scratch.kvctl(["status", "--monitor", monitor, "--timeout", "2"]).status == 0
        }
        return Cluster(
            monitor: monitor, primaryRESP: servers[0].resp, backupRESP: servers[1].resp, primary: servers[0].address)
    }

    func testRedisCLIReadsWritesAndShowsReplication() async throws {
        let (cli, _) = try tools()
        let scratch = try makeScratch()
        let cluster = try await startCluster(scratch)
        let port = "\(cluster.primaryRESP)"

        let set = try await scratch.run("redis-cli", cli, ["-p", port, "SET", "k", "v"])
        XCTAssertEqual(set.status, 0, set.stderr)
        XCTAssertEqual(set.stdout, "OK\n")
        let get = try await scratch.run("redis-cli", cli, ["-p", port, "GET", "k"])
        XCTAssertEqual(get.status, 0, get.stderr)
        XCTAssertEqual(get.stdout, "v\n")
        let native = try await scratch.kvctl(["get", "k", "--monitor", cluster.monitor, "--timeout", "10"])
        XCTAssertEqual(native.stdout, "v\n", "kvctl reads what redis-cli wrote: \(native.stderr)")

        let info = try await scratch.run("redis-cli", cli, ["--no-raw", "-p", port, "INFO", "replication"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("role:master"), info.stdout)
        XCTAssertTrue(info.stdout.contains("connected_slaves:1"), info.stdout)

        let onBackup = try await scratch.run("redis-cli", cli, ["-p", "\(cluster.backupRESP)", "GET", "k"])
        XCTAssertTrue(
            onBackup.stdout.contains("not the primary; primary is \(cluster.primary)"),
            "\(onBackup.stdout)\(onBackup.stderr)")
    }

    func testRedisBenchmarkRunsPipelinedSetsAndGets() async throws {
        let (_, benchmark) = try tools()
        let scratch = try makeScratch()
        let cluster = try await startCluster(scratch)
        let run = try await scratch.run(
            "redis-benchmark", benchmark,
            ["-p", "\(cluster.primaryRESP)", "-t", "set,get", "-n", "2000", "-c", "10", "-P", "16", "-q"],
            timeout: 120)
        XCTAssertEqual(run.status, 0, "\(run.stdout)\n\(run.stderr)")
        // -q still prints progress lines ended by CR; the results end with LF.
        let results = run.stdout.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).map(String.init)
        for test in ["SET", "GET"] {
            XCTAssertTrue(
                results.contains { $0.hasPrefix("\(test): ") && $0.contains("requests per second") },
                "no \(test) result in:\n\(run.stdout)\n\(run.stderr)")
        }
        XCTAssertFalse(run.stderr.contains("Could not fetch server CONFIG"), run.stderr)
    }

    func testASocketNamedRespPassedBySystemdServesTheRedisProtocol() async throws {
        let (cli, _) = try tools()
        guard let activator = Binaries.tool("systemd-socket-activate") else {
            throw XCTSkip("systemd-socket-activate is not installed (Debian package systemd)")
        }
        let scratch = try makeScratch()
        let monitor = "127.0.0.1:\(try Loopback.freePort())"
        _ = try scratch.spawn("kv-monitor", Binaries.monitor, ["--listen", monitor, "--log-target", "stderr"])
        let (service, resp) = (try Loopback.freePort(), try Loopback.freePort())
        let server = try scratch.spawn(
            "activate-kv-server", activator,
            [
                "-l", "127.0.0.1:\(service)", "--fdname=\(ListenSource.protocolSocketName)", "-l",
                "127.0.0.1:\(resp)", "--fdname=\(ListenSource.respSocketName)", "-E", "SWIFT_BACKTRACE=enable=no",
                Binaries.server, "--listen", "127.0.0.1:\(try Loopback.freePort())", "--advertise",
                "127.0.0.1:\(service)", "--monitor", monitor, "--log-target", "stderr",
            ])
        try await waitUntil("the resp socket listens", timeout: 10, detail: { server.outputSummary }) {
            Loopback.isListening(port: resp)
        }
        // The first connection starts the daemon, which then answers it on the passed socket.
        let ping = try await scratch.run("redis-cli", cli, ["-p", "\(resp)", "PING"])
        XCTAssertEqual(ping.stdout, "PONG\n", "\(ping.stderr)\n\(server.outputSummary)")
        try await waitUntil("kv-server takes fd 4 as its resp socket", timeout: 5, detail: { server.outputSummary }) {
            server.stderr.contains("kv_resp_listen=socket passed by systemd (fd 4, \"resp\")")
        }
    }
}
