import Foundation
import KVClient
import KVProtocol
import KVTestSupport
import NIOCore
import XCTest

/// Three kv-monitor processes sharing one view in a real 3-member etcd cluster, three
/// kv-server processes and clients naming every monitor (docs/DESIGN.md §2.10, §4.3).
/// Each test uses a cluster name (etcd prefix) of its own on the class's etcd, which
/// starts every test with all members running.
final class ControlPlaneTests: XCTestCase {
    private static let shared = SharedEtcdCluster(members: 3)

    override class func tearDown() {
        shared.stop()
        super.tearDown()
    }

    /// A started control plane: etcd, three monitors (one leads), three servers with a
    /// synchronised primary and backup, and a client naming every monitor.
    private func makeControlPlane(
        startServers: Bool = true, etcdViaProxies: Bool = false,
        leaderTTL: Int = ControlPlaneCluster.defaultLeaderTTL
    ) async throws -> (
        ControlPlaneCluster, KVClient
    ) {
        let etcd = try await Self.shared.healthyCluster()
        let scratch = try makeScratch()
        let test = name.split(separator: " ").last?.filter { $0.isLetter } ?? "test"
        let cluster = try await ControlPlaneCluster.make(
            scratch: scratch, etcd: etcd, name: test, etcdViaProxies: etcdViaProxies, leaderTTL: leaderTTL)
        addTeardownBlock { await cluster.stopAll() }
        let client = cluster.makeClient()
        addTeardownBlock { client.close() }
        for index in 0..<3 { try cluster.startMonitor(index) }
        try await cluster.waitForLeader(client: client)
        // A monitor that does not answer yet does not stop another from leading.
        try await waitUntil("every monitor answers", timeout: 15) {
            await cluster.statuses(client: client).allSatisfy { $0 != nil }
        }
        if startServers {
            for index in 0..<3 { try cluster.startServer(index) }
            try await cluster.waitForSynchronisedView(client: client)
        }
        return (cluster, client)
    }

    /// Puts key i = value i one after the other until stopped, each allowed `patience`
    /// seconds (a put that fails for good fails the test); returns how many were
    /// acknowledged.
    private final class Load: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        private(set) var acknowledged = 0
        private(set) var failure: String?
        private var task: Task<Void, Never>?

        func start(_ client: KVClient, patience: Double = 30) {
            task = Task {
                var index = 0
                while !lock.withLock({ stopped }) {
                    do {
                        try await client.put(
                            Array("load\(index)".utf8), Array("value\(index)".utf8),
                            deadline: NIODeadline.now() + .nanoseconds(Int64(patience * 1e9)))
                        lock.withLock { acknowledged = index + 1 }
                        index += 1
                    } catch {
                        lock.withLock { failure = "put \(index) failed for good: \(error)" }
                        return
                    }
                }
            }
        }

        var count: Int { lock.withLock { acknowledged } }

        func stop() async -> (acknowledged: Int, failure: String?) {
            lock.withLock { stopped = true }
            await task?.value
            return lock.withLock { (acknowledged, failure) }
        }
    }

    private func checkLoad(_ load: Load, client: KVClient) async throws {
        let (count, failure) = await load.stop()
        XCTAssertNil(failure)
        XCTAssertGreaterThan(count, 0)
        for index in 0..<count {
            let value = try await client.get(Array("load\(index)".utf8), deadline: NIODeadline.now() + .seconds(15))
            XCTAssertEqual(value.map { String(decoding: $0, as: UTF8.self) }, "value\(index)", "load\(index)")
        }
    }

    // MARK: - The leading monitor fails

    func testKillingTheLeadingMonitorUnderLoadLosesNoWriteAndFailoverStillWorks() async throws {
        let (cluster, client) = try await makeControlPlane()
        let load = Load()
        load.start(cluster.makeClient())
        try await waitUntil("the load is running", timeout: 10) { load.count >= 20 }

        let old = try await cluster.waitForLeader(client: client)
        await cluster.killMonitor(old)
        let started = ContinuousClock.now
        let new = try await cluster.waitForLeader(client: client, within: 15) { $0 != old }
        let tookOver = ContinuousClock.now - started
        // The lease runs out within the TTL; the rest is the campaign and this test's
        // polling, on a machine the whole cluster shares.
        XCTAssertLessThan(tookOver, .seconds(Double(cluster.leaderTTL) + 5), "monitor \(new) leads")

        // A primary killed right after is replaced by its backup.
        let view = try await cluster.waitForSynchronisedView(client: client)
        let primary = try XCTUnwrap(cluster.serverIndex(of: view.primary))
        await cluster.killServer(primary)
        let after = try await cluster.waitForSynchronisedView(client: client, within: 30) {
            $0.viewnum > view.viewnum && $0.primary == view.backup
        }
        XCTAssertNotEqual(after.backup, view.primary)

        let before = load.count
        try await waitUntil("puts go on after both failovers", timeout: 15) { load.count >= before + 20 }
        try await checkLoad(load, client: client)
        cluster.checkOneViewPerNumber()
    }

    /// A stopped (not killed) leader revokes its lease: another leads at once, without
    /// waiting for the lease to run out. A long TTL here, so that "at once" and "when the
    /// lease ran out" stay seconds apart however slow the machine: the lease, kept alive
    /// every third of it, would run out at least 6.6 s after the stop.
    func testAStoppedLeaderHandsOverAtOnce() async throws {
        let (cluster, client) = try await makeControlPlane(startServers: false, leaderTTL: 10)
        let old = try await cluster.waitForLeader(client: client)
        try await cluster.stopMonitor(old)
        let started = ContinuousClock.now
        try await cluster.waitForLeader(client: client, within: 20) { $0 != old }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
    }

    // MARK: - The leader cut off from etcd

    func testALeaderCutOffFromEtcdStopsActingBeforeAnotherLeads() async throws {
        let (cluster, client) = try await makeControlPlane(etcdViaProxies: true)
        let old = try await cluster.waitForLeader(client: client)
        cluster.cutFromEtcd(old)
        let cutAt = ContinuousClock.now

        // Sample every monitor until another leads: never two leaders at once, and the
        // old one stops before its lease could have run out (lease from its last
        // keep-alive, sent before the cut).
        var steppedDownAfter: Duration?
        var newLeader: Int?
        try await waitUntil("another monitor leads", timeout: 20) {
            let statuses = await cluster.statuses(client: client)
            let leaders = statuses.indices.filter { statuses[$0]?.role == .leader }
            XCTAssertLessThanOrEqual(leaders.count, 1, "two monitors lead at once: \(statuses)")
            if steppedDownAfter == nil, statuses[old]?.role != .leader {
                steppedDownAfter = ContinuousClock.now - cutAt
            }
            newLeader = leaders.first { $0 != old }
            return newLeader != nil
        }
        let stepDown = try XCTUnwrap(steppedDownAfter)
        XCTAssertLessThanOrEqual(
            stepDown, .seconds(Double(cluster.leaderTTL)) + .milliseconds(300),
            "the old leader acted \(stepDown) after being cut off")

        // The new leader fails over; the old one, back in touch, follows it.
        let view = try await cluster.waitForSynchronisedView(client: client)
        cluster.cutFromEtcd(old, false)
        try await waitUntil("the old leader follows the new one", timeout: 15) {
            let status = await cluster.status(old, client: client)
            return status?.role == .follower && status?.leader == cluster.monitorAddresses[newLeader!]
        }
        await cluster.killServer(try XCTUnwrap(cluster.serverIndex(of: view.primary)))
        try await cluster.waitForSynchronisedView(client: client, within: 30) {
            $0.viewnum > view.viewnum && $0.primary == view.backup
        }
        try await client.put(Array("after".utf8), Array("cut".utf8), deadline: NIODeadline.now() + .seconds(15))
        cluster.checkOneViewPerNumber()
    }

    // MARK: - etcd fails

    func testOneEtcdMemberKilledChangesNothingClientsSee() async throws {
        let (cluster, client) = try await makeControlPlane()
        let load = Load()
        load.start(cluster.makeClient(), patience: 10)
        try await waitUntil("the load is running", timeout: 10) { load.count >= 10 }
        await cluster.etcd.kill(0)
        let before = load.count
        try await waitUntil("puts go on", timeout: 15) { load.count >= before + 30 }
        try await cluster.waitForLeader(client: client, within: 10)
        // Views still change: a failover works with one member down.
        let view = try await cluster.waitForSynchronisedView(client: client)
        await cluster.killServer(try XCTUnwrap(cluster.serverIndex(of: view.primary)))
        try await cluster.waitForSynchronisedView(client: client, within: 30) {
            $0.viewnum > view.viewnum && $0.primary == view.backup
        }
        try await checkLoad(load, client: client)
        cluster.checkOneViewPerNumber()
    }

    func testWithoutEtcdQuorumViewsFreezeDataIsServedAndTheControlPlaneRecoversByItself() async throws {
        let (cluster, client) = try await makeControlPlane()
        let view = try await cluster.waitForSynchronisedView(client: client)
        try await cluster.etcd.pause(1)
        try await cluster.etcd.pause(2)

        // Every monitor says etcd does not answer, and none leads.
        try await waitUntil("every monitor reports etcd unreachable and none leads", timeout: 20) {
            let statuses = await cluster.statuses(client: client)
            return statuses.allSatisfy { $0 != nil && $0!.role == .follower && !$0!.storeReachable }
        }
        let status = try await cluster.scratch.kvctl(["--monitor", cluster.monitorList, "status"], timeout: 30)
        XCTAssertEqual(status.status, 1, "degraded:\n\(status.stdout)\(status.stderr)")

        // Data is served; a dead backup is not replaced while views are frozen.
        try await client.put(Array("frozen".utf8), Array("yes".utf8), deadline: NIODeadline.now() + .seconds(15))
        await cluster.killServer(try XCTUnwrap(cluster.serverIndex(of: view.backup)))
        try await pause(1.5)
        let frozen = try await client.view(deadline: NIODeadline.now() + .seconds(5))
        XCTAssertEqual(frozen.viewnum, view.viewnum, "no view changes without etcd")

        // Quorum back: a monitor leads again by itself and replaces the dead backup.
        cluster.etcd.resume(1)
        cluster.etcd.resume(2)
        try await cluster.waitForLeader(client: client, within: 30)
        let after = try await cluster.waitForSynchronisedView(client: client, within: 30) {
            $0.viewnum > view.viewnum && $0.primary == view.primary
        }
        XCTAssertNotEqual(after.backup, view.backup)
        let value = try await client.get(Array("frozen".utf8), deadline: NIODeadline.now() + .seconds(15))
        XCTAssertEqual(value, Array("yes".utf8))
        cluster.checkOneViewPerNumber()
    }

    // MARK: - Restarts and migration

    func testTheWholeControlPlaneRestartedContinuesTheView() async throws {
        let (cluster, client) = try await makeControlPlane()
        try await client.put(Array("kept".utf8), Array("1".utf8), deadline: NIODeadline.now() + .seconds(15))
        let view = try await cluster.waitForSynchronisedView(client: client)
        for index in 0..<3 { await cluster.killMonitor(index) }
        for member in 0..<3 { await cluster.etcd.kill(member) }
        // All together: a member alone cannot answer healthy without a quorum.
        try await cluster.etcd.heal()
        for index in 0..<3 { try cluster.startMonitor(index) }
        try await cluster.waitForLeader(client: client, within: 20)
        let continued = try await cluster.waitForSynchronisedView(client: client)
        XCTAssertGreaterThanOrEqual(continued.viewnum, view.viewnum)
        XCTAssertEqual(continued.primary, view.primary, "the restarted control plane kept the primary")
        let value = try await client.get(Array("kept".utf8), deadline: NIODeadline.now() + .seconds(15))
        XCTAssertEqual(value, Array("1".utf8))
        cluster.checkOneViewPerNumber()
    }

    /// A cluster run by one monitor with a view file moves to three monitors and etcd:
    /// the first to lead imports the file's view, so the servers keep their roles and
    /// no data is lost.
    func testASoleMonitorsViewIsImportedIntoEtcd() async throws {
        let etcd = try await Self.shared.healthyCluster()
        let scratch = try makeScratch()
        let cluster = try await ControlPlaneCluster.make(scratch: scratch, etcd: etcd, name: "migration")
        addTeardownBlock { await cluster.stopAll() }
        let client = cluster.makeClient()
        addTeardownBlock { client.close() }
        let stateDirectory = scratch.path("monitor-state")
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)

        try cluster.startSoleMonitor(0, stateDirectory: stateDirectory)
        for index in 0..<3 { try cluster.startServer(index) }
        let soleView = try await cluster.waitForSynchronisedView(client: client)
        try await client.put(Array("migrated".utf8), Array("yes".utf8), deadline: NIODeadline.now() + .seconds(15))

        try await cluster.stopMonitor(0)
        try cluster.startMonitor(0, stateDirectory: stateDirectory)
        try await cluster.waitForLeader(client: client) { $0 == 0 }
        try cluster.startMonitor(1)
        try cluster.startMonitor(2)
        let view = try await cluster.waitForSynchronisedView(client: client)
        XCTAssertGreaterThanOrEqual(view.viewnum, soleView.viewnum)
        XCTAssertEqual(view.primary, soleView.primary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stateDirectory + "/view.imported"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateDirectory + "/view"))
        let value = try await client.get(Array("migrated".utf8), deadline: NIODeadline.now() + .seconds(15))
        XCTAssertEqual(value, Array("yes".utf8))
    }

    // MARK: - Flags

    /// Bad control-plane flags stop kv-monitor at once with a message that says what to
    /// fix; none needs etcd to be running.
    func testKvMonitorRefusesBadControlPlaneFlags() async throws {
        let scratch = try makeScratch()
        let port = try Loopback.freePort()
        let cases: [(arguments: [String], status: Int32, says: String)] = [
            (["--etcd-endpoints", "https://127.0.0.1:2379"], 64, "need the CA that signs their certificates"),
            (
                ["--etcd-endpoints", "https://127.0.0.1:2379", "--etcd-cacert", "/nonexistent/ca.crt"], 1,
                "cannot open the CA file /nonexistent/ca.crt"
            ),
            (["--etcd-endpoints", "ftp://x"], 1, "invalid etcd endpoint"),
            (["--etcd-endpoints", ","], 64, "names no endpoint"),
            (["--etcd-endpoints", "http://127.0.0.1:2379", "--leader-ttl", "1s"], 64, "at least 2s"),
            (["--etcd-endpoints", "http://127.0.0.1:2379", "--leader-ttl", "2500ms"], 64, "whole number of seconds"),
            (["--etcd-endpoints", "http://127.0.0.1:2379", "--cluster", "a/b"], 64, "without spaces or slashes"),
        ]
        for (arguments, status, says) in cases {
            let result = try await scratch.run(
                "kv-monitor", Binaries.monitor, ["--listen", "127.0.0.1:\(port)"] + arguments, timeout: 15)
            XCTAssertEqual(result.status, status, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(says), "\(arguments) should say \"\(says)\": \(result.stderr)")
        }
        let wildcard = try await scratch.run(
            "kv-monitor", Binaries.monitor,
            ["--listen", "0.0.0.0:\(port)", "--etcd-endpoints", "http://127.0.0.1:2379"], timeout: 15)
        XCTAssertEqual(wildcard.status, 1)
        XCTAssertTrue(wildcard.stderr.contains("--advertise is required"), wildcard.stderr)
    }

    // MARK: - kvctl

    func testKvctlMonitorsListsTheLeaderAndFollowers() async throws {
        let (cluster, _) = try await makeControlPlane(startServers: false)
        let result = try await cluster.scratch.kvctl(["--monitor", cluster.monitorList, "monitors", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let list = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(list.count, 3)
        XCTAssertEqual(list.filter { $0["leader"] as? Bool == true }.count, 1)
        XCTAssertEqual(Set(list.compactMap { $0["address"] as? String }), Set(cluster.monitorAddresses))
        XCTAssertTrue(list.allSatisfy { $0["reachable"] as? Bool == true })
    }
}
