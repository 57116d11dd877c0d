import KVClient
import KVProtocol
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

/// The original TestPartition1 and TestPartition2: a primary cut off from the monitor
/// (but not from anyone else) keeps believing it is primary for a while; it must never
/// answer a Get from its now stale state.
final class PartitionTests: XCTestCase {
    /// Partition 1: the old primary, cut off from the monitor only, gets a Get straight
    /// from a client after the promoted backup has accepted a newer Put. It must answer
    /// `wrong server` (or nothing), never the old value.
    func testOldPrimaryDoesNotServeGets() async throws {
        let (cluster, s1, s2, _) = try await pairHoldingA1()

        // Cut s1 off from the monitor only: its pings fail, clients and s2 still reach it.
        let toMonitor = try await cluster.monitorProxy(s1)
        toMonitor.block()
        try await cluster.waitForView(primary: s2, backup: nil)
        let oldPrimaryStatus = await cluster.snapshot(s1)
        XCTAssertEqual(oldPrimaryStatus?.role, .primary, "s1 has not heard of the new view: the case under test")

        let client2 = await cluster.makeClient()
        try await client2.put("a", "111")
        try await check(client2, "a", "111")

        // A Get sent directly to the old primary.
        let connection = try await KVConnection.connect(to: await cluster.address(s1), group: Shared.group).get()
        defer { connection.close() }
        let request = ClientRequest(op: .get, clientID: 0xDEAD_BEEF, seq: 1, key: bytes("a"))
        do {
            let reply = try await connection.request(.request(request), timeout: .seconds(3)).get()
            guard case .reply(let answer) = reply else { return XCTFail("unexpected reply \(reply)") }
            XCTAssertNotEqual(answer.value, bytes("1"), "the old primary answered a Get with stale data")
            XCTAssertEqual(answer.status, .wrongServer, "the old primary must refuse: it is no longer primary")
        } catch let error as TransportError {
            // No answer at all is allowed too; only a stale answer is not.
            XCTAssertTrue(error == .timedOut || error == .connectionClosed, "unexpected transport error \(error)")
        }

        try await check(client2, "a", "111")
        // The old primary's Get did not disturb anything: the new primary still serves.
        try await cluster.waitForView(primary: s2, backup: nil)
    }

    /// Partition 2: a client's Get is held in a proxy in front of the old primary until
    /// the view has moved on twice (new primary, new backup), a newer Put has been
    /// accepted, and the new primary has been killed. Released, the Get reaches the old
    /// primary, which still believes it is primary; the client must never see the stale
    /// value. Without read leases: with them, the old primary's renewals are refused once
    /// the backup is in the next view, and it learns that it was replaced without any
    /// Get (the next test).
    func testPartitionedOldPrimaryDoesNotCompleteGets() async throws {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer(viaProxy: true, monitorProxy: true, readLease: 0)
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer(readLease: 0)
        try await cluster.waitForView(primary: s1, backup: s2)

        // One attempt may wait long: the Get must still be waiting on the old primary when
        // the proxy lets it through (a shorter attempt would give up and ask the monitor).
        let client1 = await cluster.makeClient(attemptTimeout: .seconds(60))
        try await client1.put("a", "1")
        try await check(client1, "a", "1")

        let proxy = try await cluster.proxy(s1)
        let toMonitor = try await cluster.monitorProxy(s1)
        toMonitor.block()
        proxy.hold(.toTarget)
        let heldBefore = proxy.bytesReceived(.toTarget)
        let staleGet = Task { try await client1.get("a", within: 60) }
        try await waitUntil("the client's Get is held in the proxy") {
            proxy.bytesReceived(.toTarget) > heldBefore
        }

        // The view moves on without s1.
        try await cluster.waitForView(primary: s2, backup: nil)
        let s3 = try await cluster.addServer(readLease: 0)
        try await cluster.waitForView(primary: s2, backup: s3)
        let client2 = await cluster.makeClient()
        try await client2.put("a", "2")
        try await check(client2, "a", "2")
        await cluster.kill(s2)

        // Let the Get reach the old primary.
        let requestsBefore = await cluster.inspect(s1) { $0.counters.requests } ?? 0
        let repliesBefore = proxy.bytesReceived(.toConnector)
        proxy.release(.toTarget)
        var resentOnArrival: UInt64 = 0
        try await waitUntil("the held Get has reached the old primary's core") {
            guard let counters = await cluster.inspect(s1, { $0.counters }) else { return false }
            resentOnArrival = counters.batchesResent
            return counters.requests > requestsBefore
        }
        // The old primary now has the Get and still believes it is primary of the old view,
        // with s2 (dead) as backup. It must not answer from its state: let it try its
        // dead backup again at least once (its batch with the Get resent, which takes up to
        // its resend interval of 10 ticks) and check that it has still not answered.
        let s1Status = await cluster.snapshot(s1)
        XCTAssertEqual(s1Status?.role, .primary)
        XCTAssertEqual(s1Status?.store.value(bytes("a")), bytes("1"), "s1 holds the stale value: the case under test")
        try await waitUntil("the old primary resends its batch with the Get to its dead backup") {
            await cluster.inspect(s1) { $0.counters.batchesResent } ?? 0 > resentOnArrival
        }
        XCTAssertEqual(
            proxy.bytesReceived(.toConnector), repliesBefore, "the partitioned primary answered the Get")
        // End the partitioned server, as the original does; the client then retries through
        // the monitor and reaches the current primary (s3, promoted).
        await cluster.kill(s1)
        let value = try await staleGet.value
        XCTAssertNotEqual(value, "1", "the partitioned primary answered a Get with a stale value")
        XCTAssertEqual(value, "2")
        try await cluster.waitForView(primary: s3, backup: nil)
        try await check(client2, "a", "2")
    }

    /// Partition 2 with read leases: the old primary, cut off from the monitor and idle,
    /// renews its lease with empty batches; once its backup serves the next view it
    /// refuses them, and the old primary stops answering as primary before any client asks
    /// it. A Get that reaches it then is told to go elsewhere, never answered from its
    /// store.
    func testAnIdleOldPrimaryLearnsFromItsRenewalsThatItWasReplaced() async throws {
        let (cluster, s1, s2, client1) = try await pairHoldingA1()
        try await waitUntil("s1 answers Gets under its lease") {
            _ = try? await client1.get("a")
            return await cluster.inspect(s1) { $0.counters.leaseReads } ?? 0 > 0
        }

        let toMonitor = try await cluster.monitorProxy(s1)
        toMonitor.block()
        try await cluster.waitForView(primary: s2, backup: nil)
        let client2 = await cluster.makeClient()
        try await client2.put("a", "2")
        try await waitUntil("s1 stops serving: a renewal was refused") {
            await cluster.snapshot(s1)?.serving == false
        }
        let role = await cluster.snapshot(s1)?.role
        XCTAssertEqual(role, .primary, "s1 has not heard of the new view: the case under test")

        let connection = try await KVConnection.connect(to: await cluster.address(s1), group: Shared.group).get()
        defer { connection.close() }
        let request = ClientRequest(op: .get, clientID: 0xFEED, seq: 1, key: bytes("a"))
        let reply = try await connection.request(.request(request), timeout: .seconds(3)).get()
        XCTAssertEqual(reply, .reply(ClientReply(status: .wrongServer)), "never the stale value")
        try await check(client2, "a", "2")
    }

    /// s1 primary (its way to the monitor through a proxy), s2 its backup, and a = 1 written.
    private func pairHoldingA1() async throws -> (TestCluster, Int, Int, KVClient) {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer(monitorProxy: true)
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: s2)
        let client = await cluster.makeClient()
        try await client.put("a", "1")
        try await check(client, "a", "1")
        return (cluster, s1, s2, client)
    }
}
