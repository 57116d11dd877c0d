import KVProtocol
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

/// The test proxy's faults, against a real server: what the scenario tests rely on when
/// they make a server unreliable, cut one off from the monitor or hold its requests.
final class TCPProxyTests: XCTestCase {
    /// A cluster with one server, serving, and a proxy of the test's own in front of it.
    private func proxiedServer(seed: UInt64 = 1) async throws -> (TestCluster, server: Int, TCPProxy) {
        let cluster = try await makeCluster()
        let server = try await cluster.addServer()
        try await cluster.waitForView(primary: server, backup: nil)
        let listening = await cluster.listenAddress(server)
        let target = try XCTUnwrap(PeerAddress(listening))
        let proxy = try await TCPProxy.start(target: target, group: Shared.group, seed: seed)
        addTeardownBlock { await proxy.stop() }
        return (cluster, server, proxy)
    }

    private func requestsProcessed(_ cluster: TestCluster, _ server: Int) async -> Int {
        Int(await cluster.inspect(server) { $0.counters.requests } ?? 0)
    }

    func testAnUnreliableProxyDropsRequestsAndRepliesButNeverTheHandshake() async throws {
        // A fixed seed and one request at a time: the same draws, so the same drops, every run.
        let (cluster, server, proxy) = try await proxiedServer(seed: 42)
        proxy.unreliable = true
        let processedBefore = await requestsProcessed(cluster, server)
        let total = 500
        var (answered, lost, connections) = (0, 0, 0)
        var connection: KVConnection?
        for seq in 1...total {
            if connection?.isActive != true {
                // Through the handshake every time, however many drops came before.
                connection = try await KVConnection.connect(to: proxy.address, group: Shared.group).get()
                connections += 1
            }
            do {
                let reply = try await get(connection!, seq: UInt64(seq))
                guard case .reply = reply else { return XCTFail("unexpected answer \(reply)") }
                answered += 1
            } catch TransportError.connectionClosed {
                lost += 1
                connection = nil
            }
        }
        // A connection for the first request and after each loss but a loss at the end.
        let connectionsNeeded = 1 + lost - (connection == nil ? 1 : 0)
        connection?.close()

        let processed = await requestsProcessed(cluster, server) - processedBefore
        let requestsDropped = proxy.framesDropped(.toTarget)
        let repliesDropped = proxy.framesDropped(.toConnector)
        XCTAssertEqual(answered + lost, total)
        XCTAssertEqual(requestsDropped + repliesDropped, lost, "each lost request is one dropped frame")
        XCTAssertEqual(connections, connectionsNeeded, "each drop closed the connection, and each new one opened")
        XCTAssertEqual(processed, total - requestsDropped, "a dropped request never reaches the server")
        XCTAssertEqual(answered, processed - repliesDropped, "a dropped reply comes from a processed request")
        // The original's proportions: about 10% of requests, and the replies of about 18%.
        XCTAssertTrue((30...70).contains(requestsDropped), "\(requestsDropped) requests dropped of \(total)")
        XCTAssertTrue((60...120).contains(repliesDropped), "\(repliesDropped) replies dropped of \(total)")

        // Reliable again: nothing more is dropped.
        proxy.unreliable = false
        let reliable = try await KVConnection.connect(to: proxy.address, group: Shared.group).get()
        defer { reliable.close() }
        for seq in 1...50 { _ = try await get(reliable, seq: UInt64(total + seq)) }
        XCTAssertEqual(proxy.framesDropped(.toTarget) + proxy.framesDropped(.toConnector), lost)
    }

    func testABlockedProxyClosesItsConnectionsAndNewOnesUntilUnblocked() async throws {
        let (cluster, server, proxy) = try await proxiedServer()
        let open = try await KVConnection.connect(to: proxy.address, group: Shared.group).get()
        _ = try await get(open, seq: 1)

        proxy.block()
        try await waitUntil("the open connection is closed") { !open.isActive }
        let processed = await requestsProcessed(cluster, server)
        do {
            let connection = try await KVConnection.connect(
                to: proxy.address, group: Shared.group, timeout: .seconds(2)
            ).get()
            connection.close()
            XCTFail("a connection through a blocked proxy completed its handshake")
        } catch {}
        let processedWhileBlocked = await requestsProcessed(cluster, server)
        XCTAssertEqual(processedWhileBlocked, processed, "nothing reached the server")

        proxy.unblock()
        let again = try await KVConnection.connect(to: proxy.address, group: Shared.group).get()
        defer { again.close() }
        guard case .reply = try await get(again, seq: 2) else { return XCTFail("no reply once unblocked") }
    }

    func testHeldAndDelayedFramesArriveLateInOrder() async throws {
        let (_, _, proxy) = try await proxiedServer()
        let connection = try await KVConnection.connect(to: proxy.address, group: Shared.group).get()
        defer { connection.close() }

        proxy.hold(.toTarget)
        let forwarded = proxy.bytesForwarded(.toTarget)
        let held = Task { try await get(connection, seq: 1) }
        try await waitUntil("the request is in the proxy") { proxy.bytesReceived(.toTarget) > forwarded }
        XCTAssertEqual(proxy.bytesForwarded(.toTarget), forwarded, "a held request went through")
        proxy.release(.toTarget)
        guard case .reply = try await held.value else { return XCTFail("no reply once released") }

        proxy.setDelay(.milliseconds(200), .toConnector)
        let clock = ContinuousClock()
        let start = clock.now
        guard case .reply = try await get(connection, seq: 2) else { return XCTFail("no delayed reply") }
        XCTAssertGreaterThanOrEqual(clock.now - start, .milliseconds(200), "the reply was not delayed")
    }
}

/// A get of key "k" over `connection`, answered within 5 s.
private func get(_ connection: KVConnection, seq: UInt64) async throws -> Message {
    let request = ClientRequest(op: .get, clientID: 7, seq: seq, key: bytes("k"))
    return try await connection.request(.request(request), timeout: .seconds(5)).get()
}
