import KVClient
import KVProtocol
import KVTestSupport
import XCTest

/// The original TestBasicFail, on TCP: first primary, a backup joins, the backup takes
/// over with all data, a restarted server becomes backup, an idle server fills in, a
/// restarted primary counts as dead, a dead backup leaves the view, and finally an
/// uninitialised server never becomes primary nor serves.
final class BasicFailTests: XCTestCase {
    func testBasicFailOver() async throws {
        let cluster = try await makeCluster()
        let client = await cluster.makeClient()

        // Single primary, no backup.
        let s1 = try await cluster.addServer()
        let view1 = try await cluster.waitForView(primary: s1, backup: nil)
        XCTAssertEqual(view1.viewnum, 1, "the first server to ping is primary of view 1")

        try await client.put("111", "v1")
        try await check(client, "111", "v1")
        try await client.put("2", "v2")
        try await check(client, "2", "v2")
        try await client.put("1", "v1a")
        try await check(client, "1", "v1a")

        // A backup joins and receives everything.
        let s2 = try await cluster.addServer()
        let view2 = try await cluster.waitForView(primary: s1, backup: s2)
        XCTAssertGreaterThan(view2.viewnum, view1.viewnum)
        try await client.put("3", "33")
        try await check(client, "3", "33")
        try await waitUntil("the backup holds the primary's data") {
            let primary = await cluster.snapshot(s1)?.store
            let backup = await cluster.snapshot(s2)?.store
            return primary != nil && primary == backup
        }
        try await client.put("4", "44")
        try await check(client, "4", "44")
        try await client.put("10", "100")
        try await check(client, "10", "100")
        var expected = ["111": "v1", "2": "v2", "1": "v1a", "3": "33", "4": "44", "10": "100"]

        // Primary fails: the backup takes over with all data.
        await cluster.kill(s1)
        try await cluster.waitForView(primary: s2, backup: nil)
        for (key, value) in expected { try await check(client, key, value) }

        // The killed server restarts (same address, empty) and becomes backup.
        try await cluster.restart(s1)
        try await cluster.waitForView(primary: s2, backup: s1)
        for i in 0..<20 {
            try await client.put("k\(i)", "v\(i)")
            expected["k\(i)"] = "v\(i)"
        }
        try await check(client, "k19", "v19")

        // An idle third server becomes backup when the primary fails.
        let s3 = try await cluster.addServer()
        try await waitUntil("the monitor knows the third server") {
            let address = await cluster.address(s3)
            return await cluster.monitor?.servers().contains { $0.address == address && $0.alive } ?? false
        }
        await cluster.kill(s2)
        try await cluster.waitForView(primary: s1, backup: s3)
        for (key, value) in expected { try await check(client, key, value) }

        // A primary that restarts (pings with viewnum 0) is treated as dead: the backup is
        // promoted and the restarted, empty server comes back as backup.
        let before = await cluster.view()
        try await cluster.restart(s1)
        let after = try await cluster.waitForView(primary: s3, backup: s1)
        XCTAssertGreaterThan(after.viewnum, before.viewnum)
        for (key, value) in expected { try await check(client, key, value) }

        // A dead backup is removed from the view.
        await cluster.kill(s1)
        try await cluster.waitForView(primary: s3, backup: nil)
        try await client.put("last", "one")
        expected["last"] = "one"
        for (key, value) in expected { try await check(client, key, value) }

        // The only server holding the data dies. Neither it, restarted empty, nor a
        // brand-new server may become primary or answer a client.
        await cluster.kill(s3)
        let s4 = try await cluster.addServer()
        try await cluster.restart(s3)
        let addresses = [await cluster.address(s3), await cluster.address(s4)]
        try await waitUntil("the monitor has heard from both empty servers", timeout: 5) {
            let servers = await cluster.monitor?.servers() ?? []
            return addresses.allSatisfy { address in servers.contains { $0.address == address && $0.alive } }
        }
        let probe = await cluster.makeClient(attemptTimeout: .milliseconds(500))
        do {
            let value = try await probe.get("111", within: 2)
            XCTFail("an uninitialised server answered a Get (\(value ?? "nil"))")
        } catch let error as KVClientError {
            guard case .timedOut = error else { return XCTFail("unexpected client error \(error)") }
        }
        // Over that whole window, and still now: no serving primary.
        let view = await cluster.view()
        let oldPrimary = await cluster.address(s3)
        let newServer = await cluster.address(s4)
        XCTAssertEqual(view.primary, oldPrimary, "the view still names the old primary")
        XCTAssertNotEqual(view.primary, newServer, "a new server must never become primary")
        for server in [s3, s4] {
            let status = await cluster.snapshot(server)
            XCTAssertEqual(status?.serving, false, "server \(server) must not serve")
            XCTAssertEqual(status?.keys, 0)
        }
    }
}
