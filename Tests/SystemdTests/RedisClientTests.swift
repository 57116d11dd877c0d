import DaemonSupport
import Foundation
import KVTestSupport
import XCTest

/// kv-server's Redis-protocol endpoint with Debian's real Redis clients (package
/// redis-tools): redis-cli for single commands and INFO, redis-benchmark for pipelined
/// load from many connections, against real kv-monitor and kv-server processes.
final class RedisClientTests: XCTestCase {
    private func tools() throws -> (cli: String, benchmark: String) {
        guard let cli = Binaries.tool("redis-cli"), let benchmark = Binaries.tool("redis-benchmark") else {
            throw XCTSkip("redis-cli and redis-benchmark are not installed (Debian package redis-tools)")
        }
        return (cli, benchmark)
    }

    func testRedisCLIReadsWritesAndShowsReplication() async throws {
        let (cli, _) = try tools()
        let scratch = try makeScratch()
        let cluster = try await startRESPProcessCluster(scratch)
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

    func testRedisCLIServesTheDataModelTransactionsScansRESP3AndAFailover() async throws {
        let (tool, _) = try tools()
        let scratch = try makeScratch()
        let cluster = try await startRESPProcessCluster(scratch)
        let port = "\(cluster.primaryRESP)"
        func cli(_ arguments: [String], input: String? = nil) async throws -> String {
            let run = try await scratch.run(
                "redis-cli", tool, ["-p", port] + arguments, input: input.map { Array($0.utf8) })
            XCTAssertEqual(run.status, 0, run.stderr)
            return run.stdout
        }

        let set = try await cli(["SET", "k", "v", "EX", "1000"])
        XCTAssertEqual(set, "OK\n")
        let ttl = try await cli(["TTL", "k"])
        // Two redis-cli runs apart: a slow machine may take seconds between them.
        XCTAssertTrue(Int(ttl.dropLast()).map { (990...1000).contains($0) } ?? false, ttl)
        let refused = try await cli(["SET", "k", "v", "NX"])
        XCTAssertEqual(refused, "\n", "nil: the key exists")
        // Commands read from standard input share one connection: a MULTI/EXEC.
        let transaction = try await cli([], input: "MULTI\nINCR n\nINCRBY n 41\nGET k\nEXEC\n")
        XCTAssertEqual(transaction, "OK\nQUEUED\nQUEUED\nQUEUED\n1\n42\nv\n")
        let keys = (0..<30).map { "user:\($0)" }
        _ = try await cli(["MSET"] + keys.flatMap { [$0, "x"] })
        // --scan walks SCAN's cursors to the end.
        let scanned = try await cli(["--scan", "--pattern", "user:*"])
        XCTAssertEqual(scanned.split(separator: "\n").map(String.init).sorted(), keys.sorted())
        let resp3 = try await cli(["-3", "--no-raw", "MGET", "k", "nothing"])
        XCTAssertEqual(resp3, "1) \"v\"\n2) (nil)\n")

        cluster.primaryProcess.signal(SIGKILL)
        let backupPort = "\(cluster.backupRESP)"
        var promoted = ""
        try await waitUntil("the backup serves k after the failover", timeout: 20, detail: { promoted }) {
            promoted = try await scratch.run("redis-cli", tool, ["-p", backupPort, "GET", "k"]).stdout
            return promoted == "v\n"
        }
        let counter = try await scratch.run("redis-cli", tool, ["-p", backupPort, "INCR", "n"])
        XCTAssertEqual(counter.stdout, "43\n", counter.stderr)
    }

    func testRedisBenchmarkRunsPipelinedSetsGetsIncrsAndMsets() async throws {
        let (_, benchmark) = try tools()
        let scratch = try makeScratch()
        let cluster = try await startRESPProcessCluster(scratch)
        let run = try await scratch.run(
            "redis-benchmark", benchmark,
            ["-p", "\(cluster.primaryRESP)", "-t", "set,get,incr,mset", "-n", "2000", "-c", "10", "-P", "16", "-q"],
            timeout: 120)
        XCTAssertEqual(run.status, 0, "\(run.stdout)\n\(run.stderr)")
        // -q still prints progress lines ended by CR; the results end with LF.
        let results = run.stdout.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).map(String.init)
        for test in ["SET", "GET", "INCR", "MSET (10 keys)"] {
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
