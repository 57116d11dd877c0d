import Foundation
import KVClient
import KVProtocol
import KVTestSupport
import NIOCore
import XCTest

/// kv-monitor processes keeping their view in an etcd that serves its client URL in TLS
/// only and requires a client certificate (`--client-cert-auth`): the monitors are given
/// https:// endpoints with `--etcd-cacert`, `--etcd-cert` and `--etcd-key`. One etcd
/// member, of this test's own.
final class ControlPlaneTLSTests: XCTestCase {
    func testMonitorsKeepTheViewInAnEtcdThatRequiresTLSAndClientCertificates() async throws {
        let etcd = try await EtcdCluster.start(members: 1, tls: true)
        addTeardownBlock { etcd.stop() }
        XCTAssertTrue(etcd.endpoints.allSatisfy { $0.hasPrefix("https://") }, "\(etcd.endpoints)")
        let name = "tls"
        let cluster = try await ControlPlaneCluster.make(
            scratch: try makeScratch(), etcd: etcd, name: name, monitors: 2, servers: 2)
        addTeardownBlock { await cluster.stopAll() }
        let client = cluster.makeClient()
        addTeardownBlock { client.close() }

        // A monitor leads (it holds the leader key in etcd), the other follows.
        for index in 0..<2 { try cluster.startMonitor(index) }
        do {
            try await cluster.waitForLeader(client: client)
        } catch {
            XCTFail("no monitor leads; their logs:\n\(cluster.monitorLogs().suffix(4000))")
            throw error
        }
        // The servers get a view with a primary and a backup, which the leader wrote in etcd.
        for index in 0..<2 { try cluster.startServer(index) }
        let view = try await cluster.waitForSynchronisedView(client: client)
        try await client.put(bytes("k"), bytes("v"), deadline: NIODeadline.now() + .seconds(10))
        let value = try await client.get(bytes("k"), deadline: NIODeadline.now() + .seconds(10))
        XCTAssertEqual(value, bytes("v"))

        // The view is in etcd, under the cluster's keys.
        let range = etcd.post(
            "/v3/kv/range",
            json: "{\"key\":\"\(Data("/kvservice/\(name)/".utf8).base64EncodedString())\","
                + "\"range_end\":\"\(Data("/kvservice/\(name)0".utf8).base64EncodedString())\",\"keys_only\":true}")
        XCTAssertEqual(range?.status, 200, "\(String(describing: range))")
        let keys =
            (try? JSONSerialization.jsonObject(with: Data((range?.body ?? "").utf8)) as? [String: Any])?["kvs"]
            as? [[String: Any]] ?? []
        XCTAssertFalse(keys.isEmpty, "no key under /kvservice/\(name)/: \(String(describing: range))")

        // kvctl sees one leader and one follower, both reachable.
        let listed = try await cluster.scratch.kvctl(["--monitor", cluster.monitorList, "monitors", "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(list.filter { $0["leader"] as? Bool == true }.count, 1, listed.stdout)
        XCTAssertTrue(list.allSatisfy { $0["reachable"] as? Bool == true }, listed.stdout)

        XCTAssertFalse(
            cluster.monitorLogs().contains("TLS handshake"), "a monitor's TLS link to etcd failed at some point")
        XCTAssertGreaterThan(view.viewnum, 0)
    }
}
