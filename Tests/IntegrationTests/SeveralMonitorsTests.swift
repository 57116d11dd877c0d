import KVClient
import KVProtocol
import KVTestSupport
import NIOCore
import XCTest

/// Servers and clients configured with several monitors (docs/DESIGN.md §4.3), on real
/// TCP: a dead one (a free port nobody listens on), a scripted follower, and the real
/// monitor of the cluster as the leader.
final class SeveralMonitorsTests: XCTestCase {
    /// An address nobody listens on: connections to it are refused.
    private func deadMonitor() throws -> String { "127.0.0.1:\(try Loopback.freePort())" }

    func testAServerPastADeadMonitorAndAFollowerPingsTheLeaderAndBecomesPrimary() async throws {
        let cluster = try await makeCluster()
        let follower = try await makeScriptedMonitor(.follower(leader: cluster.monitorAddress))
        let dead = try deadMonitor()
        let server = try await cluster.addServer(monitors: [dead, follower.address, cluster.monitorAddress])
        try await cluster.waitForView(primary: server, backup: nil)
        XCTAssertGreaterThanOrEqual(follower.received(.ping), 1, "the follower was asked, and sent it on")
        let address = await cluster.address(server)
        let alive = await cluster.monitor?.servers().first { $0.address == address }?.alive
        XCTAssertEqual(alive, true)
    }

    func testAFollowerThatKnowsNoLeaderSendsTheServerToTheNextMonitor() async throws {
        let cluster = try await makeCluster()
        let follower = try await makeScriptedMonitor(.follower(leader: ""))
        let server = try await cluster.addServer(monitors: [follower.address, cluster.monitorAddress])
        try await cluster.waitForView(primary: server, backup: nil)
        XCTAssertGreaterThanOrEqual(follower.received(.ping), 1)
    }

    func testAClientPastADeadMonitorAndAFollowerWithAViewCompletesItsOperations() async throws {
        let cluster = try await makeCluster()
        let primary = try await cluster.addServer()
        try await cluster.waitForView(primary: primary, backup: nil)
        let backup = try await cluster.addServer()
        let view = try await cluster.waitForView(primary: primary, backup: backup)
        let follower = try await makeScriptedMonitor(.follower(leader: cluster.monitorAddress, view: view))
        let client = await cluster.makeClient(monitors: [try deadMonitor(), follower.address, cluster.monitorAddress])
        try await client.put("k", "v1")
        try await check(client, "k", "v1")
        XCTAssertGreaterThanOrEqual(follower.received(.getView), 1, "the follower's view served")
        // Admin requests follow the follower's hint to the leader.
        let listing = try await client.servers(deadline: NIODeadline.now() + .seconds(10))
        XCTAssertEqual(listing.view, view)
        XCTAssertGreaterThanOrEqual(follower.received(.listServers), 1)
        let answered = try await client.view(deadline: NIODeadline.now() + .seconds(10))
        XCTAssertEqual(answered, view)
    }

    func testAClientMovesOnWhenAFollowerHasNoViewAndNamesNoLeader() async throws {
        let cluster = try await makeCluster()
        try await cluster.addServer()
        let follower = try await makeScriptedMonitor(.follower(leader: ""))
        let client = await cluster.makeClient(monitors: [follower.address, cluster.monitorAddress])
        try await client.put("k", "v")
        try await check(client, "k", "v")
        XCTAssertGreaterThanOrEqual(follower.received(.getView), 1)
        _ = try await client.servers(deadline: NIODeadline.now() + .seconds(10))
        XCTAssertGreaterThanOrEqual(follower.received(.listServers), 1)
    }

    func testKVServerTakesAListOfMonitorsFromTheFlagOrTheEnvironment() async throws {
        let cluster = try await makeCluster()
        let scratch = try makeScratch()
        let follower = try await makeScriptedMonitor(.follower(leader: cluster.monitorAddress))
        let monitors = [try deadMonitor(), follower.address, cluster.monitorAddress].joined(separator: ",")
        for (arguments, environment) in [(["--monitor", monitors], [:]), ([], ["KV_MONITOR": monitors])] {
            let port = try Loopback.freePort()
            let server = try scratch.spawn(
                "kv-server", Binaries.server,
                [
                    "--listen", "127.0.0.1:\(port)", "--leave-timeout", "0s", "--log-level", "critical",
                    "--log-target", "stderr",
                ] + arguments,
                environment: environment)
            try await waitUntil(
                "kv-server \(arguments.isEmpty ? "with KV_MONITOR" : "--monitor A,B,C") is a live server",
                detail: { server.outputSummary }
            ) {
                guard server.isRunning else { throw TestSetupError("kv-server exited\n\(server.outputSummary)") }
                return await cluster.monitor?.servers().contains { $0.address == "127.0.0.1:\(port)" && $0.alive }
                    ?? false
            }
            server.signal(SIGTERM)
            try await server.waitForExit(within: 15)
        }
        XCTAssertGreaterThanOrEqual(follower.received(.ping), 2, "each server went by the follower")

        for (arguments, environment, expected) in [
            (["--monitor", "127.0.0.1:1,nonsense"], [:], "nonsense"),
            (["--monitor", "127.0.0.1:1,,127.0.0.1:2"], [:], "empty"),
            ([], ["KV_MONITOR": "127.0.0.1:1,127.0.0.1:1"], "KV_MONITOR"),
        ] {
            let run = try await scratch.run("kv-server", Binaries.server, arguments, environment: environment)
            XCTAssertEqual(run.status, 64, "\(arguments) \(environment): a usage error")
            XCTAssertTrue(run.stderr.contains(expected), "\(arguments) \(environment): \(run.stderr)")
        }
    }
}
