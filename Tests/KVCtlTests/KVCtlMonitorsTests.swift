import Foundation
import KVProtocol
import KVTestSupport
import XCTest

/// `kvctl monitors` and `kvctl status` with several monitors (docs/DESIGN.md §4.3),
/// against scripted monitors (leaders, followers), a dead one (a free port nobody listens
/// on) and a real monitor, which predates `monitorInfo`.
final class KVCtlMonitorsTests: XCTestCase {
    private var scratch: TestScratch!

    override func setUp() async throws {
        scratch = try makeScratch()
    }

    private let healthyView = View(viewnum: 3, primary: "127.0.0.1:1", backup: "127.0.0.1:2", acked: true)

    private var healthyServers: [ServerInfo] {
        [
            ServerInfo(address: "127.0.0.1:1", role: .primary, lastPingAgeMillis: 10, viewnum: 3, alive: true),
            ServerInfo(address: "127.0.0.1:2", role: .backup, lastPingAgeMillis: 20, viewnum: 3, alive: true),
        ]
    }

    private func deadMonitor() throws -> String { "127.0.0.1:\(try Loopback.freePort())" }

    private func kvctl(_ arguments: [String], monitors: [String]) async throws -> ProcessResult {
        try await scratch.kvctl(arguments + ["--monitor", monitors.joined(separator: ","), "--timeout", "2"])
    }

    /// The JSON objects of `kvctl monitors --json`, by address.
    private func objects(_ run: ProcessResult) throws -> [String: [String: Any]] {
        let list = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]], run.stdout)
        return Dictionary(uniqueKeysWithValues: list.map { ($0["address"] as? String ?? "", $0) })
    }

    func testMonitorsReportsALeaderAFollowerAndADeadMonitorAsDegraded() async throws {
        let leader = try await makeScriptedMonitor(.leader(view: healthyView, servers: healthyServers))
        let follower = try await makeScriptedMonitor(.follower(leader: leader.address, view: healthyView))
        let dead = try deadMonitor()
        let run = try await kvctl(["monitors", "--json"], monitors: [leader.address, follower.address, dead])
        XCTAssertEqual(run.status, 1, "a monitor down: degraded\n\(run.stdout)\(run.stderr)")
        let byAddress = try objects(run)
        XCTAssertEqual(Set(byAddress.keys), [leader.address, follower.address, dead])
        for object in byAddress.values {
            XCTAssertEqual(
                Set(object.keys), ["address", "reachable", "leader", "viewnum", "role", "store_reachable"], "\(object)")
        }
        XCTAssertEqual(byAddress[leader.address]?["reachable"] as? Bool, true)
        XCTAssertEqual(byAddress[leader.address]?["leader"] as? Bool, true)
        XCTAssertEqual(byAddress[leader.address]?["viewnum"] as? Int, 3)
        XCTAssertEqual(byAddress[leader.address]?["role"] as? String, "leader")
        XCTAssertEqual(byAddress[follower.address]?["reachable"] as? Bool, true)
        XCTAssertEqual(byAddress[follower.address]?["leader"] as? Bool, false)
        XCTAssertEqual(byAddress[follower.address]?["role"] as? String, "follower")
        XCTAssertEqual(byAddress[dead]?["reachable"] as? Bool, false)
        XCTAssertEqual(byAddress[dead]?["leader"] as? Bool, false)
        XCTAssertTrue(byAddress[dead]?["viewnum"] is NSNull, "unreachable: viewnum null")
        XCTAssertTrue(byAddress[dead]?["role"] is NSNull)

        let table = try await kvctl(["monitors"], monitors: [leader.address, follower.address, dead])
        XCTAssertEqual(table.status, 1)
        XCTAssertTrue(table.stdout.contains("degraded: monitor \(dead) does not answer"), table.stdout)
        let followerLine = table.stdout.split(separator: "\n").first { $0.hasPrefix(follower.address) } ?? ""
        XCTAssertTrue(followerLine.contains("follower") && followerLine.contains(leader.address), table.stdout)
    }

    func testMonitorsExitsZeroWhenAllAnswerAndOneLeads() async throws {
        let leader = try await makeScriptedMonitor(.leader(view: healthyView))
        let follower = try await makeScriptedMonitor(.follower(leader: leader.address, view: healthyView))
        let run = try await kvctl(["monitors", "--json"], monitors: [follower.address, leader.address])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertEqual(try objects(run).values.filter { $0["leader"] as? Bool == true }.count, 1)
        let table = try await kvctl(["monitors"], monitors: [follower.address, leader.address])
        XCTAssertEqual(table.status, 0)
        XCTAssertTrue(table.stdout.hasSuffix("healthy\n"), table.stdout)
    }

    func testMonitorsWithoutALeaderIsDegradedAndWithNoneAnsweringDown() async throws {
        let first = try await makeScriptedMonitor(.follower(leader: ""))
        let second = try await makeScriptedMonitor(.follower(leader: ""))
        let leaderless = try await kvctl(["monitors"], monitors: [first.address, second.address])
        XCTAssertEqual(leaderless.status, 1)
        XCTAssertTrue(leaderless.stdout.contains("no monitor leads"), leaderless.stdout)

        let twoLeaders = try await makeScriptedMonitor(.leader(view: healthyView))
        let another = try await makeScriptedMonitor(.leader(view: healthyView))
        let split = try await kvctl(["monitors"], monitors: [twoLeaders.address, another.address])
        XCTAssertEqual(split.status, 1)
        XCTAssertTrue(split.stdout.contains("several monitors say they lead"), split.stdout)

        let none = try await kvctl(["monitors", "--json"], monitors: [try deadMonitor(), try deadMonitor()])
        XCTAssertEqual(none.status, 2)
        XCTAssertEqual(try objects(none).values.filter { $0["reachable"] as? Bool == true }.count, 0)
    }

    func testAMonitorOlderThanMonitorInfoCountsAsSoleWhenItIsTheOnlyOne() async throws {
        // It refuses monitorInfo as an unexpected message and answers getView.
        let script = ScriptedMonitor.Script(role: .sole, view: healthyView, answersMonitorInfo: false)
        let old = try await makeScriptedMonitor(script)
        let run = try await kvctl(["monitors", "--json"], monitors: [old.address])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let object = try XCTUnwrap(try objects(run)[old.address])
        XCTAssertEqual(object["reachable"] as? Bool, true)
        XCTAssertEqual(object["leader"] as? Bool, true)
        XCTAssertEqual(object["role"] as? String, "unknown")
        XCTAssertEqual(object["viewnum"] as? Int, 3, "from its answer to getView")
        XCTAssertTrue(object["store_reachable"] is NSNull)

        // Among several, it cannot be told from a stray old process: it does not lead.
        let follower = try await makeScriptedMonitor(.follower(leader: old.address))
        let mixed = try await kvctl(["monitors"], monitors: [old.address, follower.address])
        XCTAssertEqual(mixed.status, 1)
        XCTAssertTrue(mixed.stdout.contains("does not say its role"), mixed.stdout)
    }

    func testTheRealMonitorAloneIsAHealthyControlPlane() async throws {
        let cluster = try await makeCluster()
        try await cluster.addServer()
        try await waitUntil("view 1") { await cluster.view().viewnum == 1 }
        let run = try await kvctl(["monitors", "--json"], monitors: [cluster.monitorAddress])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let object = try XCTUnwrap(try objects(run)[cluster.monitorAddress])
        XCTAssertEqual(object["leader"] as? Bool, true)
        XCTAssertEqual(object["viewnum"] as? Int, 1)

        // A server refuses monitorInfo and getView alike: no monitor at all.
        let server = await cluster.address(0)
        let notAMonitor = try await kvctl(["monitors", "--json"], monitors: [server])
        XCTAssertEqual(notAMonitor.status, 2, notAMonitor.stdout + notAMonitor.stderr)
        XCTAssertEqual(try objects(notAMonitor)[server]?["reachable"] as? Bool, false)
        XCTAssertTrue(notAMonitor.stderr.contains("refuses monitorInfo, then getView"), notAMonitor.stderr)
    }

    func testAMonitorThatCannotReachItsStoreMakesStatusDegradedButNotMonitors() async throws {
        var script = ScriptedMonitor.Script.leader(view: healthyView, servers: healthyServers)
        script.storeReachable = false
        let leader = try await makeScriptedMonitor(script)
        let follower = try await makeScriptedMonitor(.follower(leader: leader.address, view: healthyView))
        let monitors = try await kvctl(["monitors"], monitors: [leader.address, follower.address])
        XCTAssertEqual(monitors.status, 0, monitors.stdout)
        XCTAssertTrue(monitors.stdout.contains("cannot reach its store"), monitors.stdout)
        let status = try await kvctl(["status"], monitors: [leader.address, follower.address])
        XCTAssertEqual(status.status, 1, status.stdout)
        XCTAssertTrue(
            status.stdout.hasPrefix("degraded: monitor \(leader.address) cannot reach its store"), status.stdout)
    }

    func testStatusCountsAMonitorDownOrNoLeaderAsDegraded() async throws {
        let leader = try await makeScriptedMonitor(.leader(view: healthyView, servers: healthyServers))
        let follower = try await makeScriptedMonitor(.follower(leader: leader.address, view: healthyView))
        let healthy = try await kvctl(["status"], monitors: [follower.address, leader.address])
        XCTAssertEqual(healthy.status, 0, healthy.stdout + healthy.stderr)
        XCTAssertTrue(healthy.stdout.hasPrefix("healthy: view 3"), healthy.stdout)

        let dead = try deadMonitor()
        let monitorDown = try await kvctl(["status"], monitors: [follower.address, dead, leader.address])
        XCTAssertEqual(monitorDown.status, 1, monitorDown.stdout + monitorDown.stderr)
        XCTAssertTrue(monitorDown.stdout.hasPrefix("degraded: monitor \(dead) does not answer"), monitorDown.stdout)
        XCTAssertTrue(monitorDown.stdout.contains("view 3"), monitorDown.stdout)

        let view = healthyView
        leader.update { $0 = .follower(leader: "", view: view) }
        follower.update { $0.leader = "" }
        let leaderless = try await kvctl(["status"], monitors: [follower.address, leader.address])
        XCTAssertEqual(leaderless.status, 1, leaderless.stdout + leaderless.stderr)
        XCTAssertTrue(leaderless.stdout.hasPrefix("degraded: no monitor leads"), leaderless.stdout)
        XCTAssertTrue(leaderless.stdout.contains("last view 3"), leaderless.stdout)

        let down = try await kvctl(["status"], monitors: [dead, try deadMonitor()])
        XCTAssertEqual(down.status, 2)
        XCTAssertTrue(down.stdout.hasPrefix("down: no monitor answers"), down.stdout)
    }
}
