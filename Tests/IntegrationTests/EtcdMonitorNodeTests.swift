import KVClient
import KVProtocol
import KVServices
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

/// Two MonitorNodes in this process sharing one view in a real etcd cluster (the
/// daemon's code: `EtcdElectionStore`, the election beside the core), with in-process
/// servers. In-process so that ThreadSanitizer sees the monitor's etcd completions hop to
/// its event loop (scripts/test runs IntegrationTests under it).
final class EtcdMonitorNodeTests: XCTestCase {
    private static let shared = SharedEtcdCluster(members: 3)

    override class func tearDown() {
        shared.stop()
        super.tearDown()
    }

    private func startMonitor(port: Int, etcd: EtcdCluster, cluster: String) async throws -> MonitorNode {
        var configuration = MonitorNode.Configuration(
            listen: .bind(PeerAddress(host: "127.0.0.1", port: port)), pingInterval: .milliseconds(100))
        configuration.controlPlane = MonitorNode.ControlPlane(
            endpoints: etcd.endpoints, cluster: cluster, advertise: "127.0.0.1:\(port)", leaderTTL: .seconds(2))
        return try await MonitorNode.start(configuration: configuration, group: Shared.group, logger: Shared.logger)
    }

    private func leader(_ monitors: [MonitorNode?]) async -> Int? {
        var leading: [Int] = []
        for (index, monitor) in monitors.enumerated() {
            if let monitor, await monitor.status()?.role == .leader { leading.append(index) }
        }
        return leading.count == 1 ? leading[0] : nil
    }

    func testACrashedLeadersPlaceIsTakenAndTheViewGoesOn() async throws {
        let etcd = try await Self.shared.healthyCluster()
        let ports = [try Loopback.freePort(), try Loopback.freePort()]
        var monitors: [MonitorNode?] = []
        for port in ports { monitors.append(try await startMonitor(port: port, etcd: etcd, cluster: "in-process")) }
        addTeardownBlock { [monitors] in for monitor in monitors { await monitor?.stop() } }
        let addresses = ports.map { "127.0.0.1:\($0)" }

        var first: Int?
        try await waitUntil("one monitor leads", timeout: 15) {
            first = await self.leader(monitors)
            return first != nil
        }
        let follower = 1 - first!
        // The follower learns who leads from its read of the leader key, which may come
        // a little after the leader's campaign won.
        try await waitUntil("the follower names the leader", timeout: 15) {
            await monitors[follower]?.status()?.leader == addresses[first!]
        }

        let cluster = try await makeCluster()
        let primary = try await cluster.addServer(monitors: addresses)
        let client = await cluster.makeClient(monitors: addresses)
        let primaryAddress = await cluster.address(primary)
        try await waitUntil("the first server is primary", timeout: 15) {
            (try? await client.view(deadline: NIODeadline.now() + .seconds(1)))?.primary == primaryAddress
        }
        try await cluster.addServer(monitors: addresses)
        try await waitUntil("a synchronised backup", timeout: 15) {
            let view = try? await client.view(deadline: NIODeadline.now() + .seconds(1))
            return view?.acked == true && view?.backup.isEmpty == false
        }
        try await client.put("k", "v")

        await monitors[first!]?.crash()
        monitors[first!] = nil
        try await waitUntil("the other monitor leads", timeout: 15) {
            await self.leader(monitors) == follower
        }
        let view = try await client.view(deadline: NIODeadline.now() + .seconds(5))
        await cluster.kill(primary)
        try await waitUntil("the backup is promoted by the new leader", timeout: 20) {
            let now = try? await client.view(deadline: NIODeadline.now() + .seconds(1))
            return now.map { $0.viewnum > view.viewnum && $0.primary == view.backup } ?? false
        }
        try await check(client, "k", "v")
    }
}
