import KVClient
import KVProtocol
import KVServices
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

/// With a shared secret configured, every connection opens with a challenge-response in
/// both directions: a peer that does not know the secret cannot register as a server,
/// forward, transfer or read, and an endpoint that does not know it cannot pose as a
/// server or monitor to one that does.
final class AuthenticationTests: XCTestCase {
    private let secret = try! SharedSecret(Array("correct horse battery staple".utf8))
    private let otherSecret = try! SharedSecret(Array("a different secret, same length".utf8))

    private func authenticatedCluster() async throws -> (TestCluster, primary: Int, backup: Int) {
        let cluster = try await makeCluster(secret: secret)
        let s1 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: s2)
        return (cluster, s1, s2)
    }

    private func client(_ cluster: TestCluster, secret: SharedSecret?) -> KVClient {
        var configuration = KVClient.Configuration(monitor: cluster.monitorAddress)
        configuration.secret = secret
        let client = KVClient(configuration: configuration, group: Shared.group)
        addTeardownBlock { client.close() }
        return client
    }

    func testServersMonitorAndClientsWithTheSecretWorkTogether() async throws {
        let (cluster, primary, backup) = try await authenticatedCluster()
        let client = await cluster.makeClient()
        try await client.put("k", "v")
        try await check(client, "k", "v")
        await cluster.kill(primary)
        try await waitUntil("the backup takes over") { await cluster.primaryIndex() == backup }
        try await check(client, "k", "v")
    }

    func testAClientWithoutTheSecretOrWithAnotherIsRefusedAtOnce() async throws {
        let (cluster, _, _) = try await authenticatedCluster()
        for (name, secret) in [("no secret", nil), ("another secret", otherSecret)] as [(String, SharedSecret?)] {
            let stranger = client(cluster, secret: secret)
            do {
                _ = try await stranger.get("k", within: 20)
                XCTFail("\(name): a read succeeded")
            } catch KVClientError.authentication(let problem) {
                // Not retried until the deadline: retrying cannot help.
                XCTAssertFalse(problem.isEmpty)
            } catch {
                XCTFail("\(name): \(error)")
            }
        }
    }

    func testAClientWithASecretRefusesAServiceWithout() async throws {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: nil)
        do {
            _ = try await client(cluster, secret: secret).get("k", within: 20)
            XCTFail("talked to a monitor that did not prove it knows the secret")
        } catch KVClientError.authentication {
        }
    }

    func testRawFramesWithoutAuthenticationReachNothing() async throws {
        let (cluster, primary, backup) = try await authenticatedCluster()
        let client = await cluster.makeClient()
        try await client.put("k", "v")
        let before = await cluster.snapshot(backup)?.store
        let stranger = "127.0.0.1:1"
        let messages: [(String, String, Message)] = [
            ("monitor", cluster.monitorAddress, .ping(address: stranger, viewnum: 0)),
            ("monitor", cluster.monitorAddress, .switchover(viewnum: await cluster.view().viewnum)),
            (
                "primary", await cluster.address(primary),
                .request(ClientRequest(op: .get, clientID: 1, seq: 1, key: Array("k".utf8), value: []))
            ),
            (
                "backup", await cluster.address(backup),
                .forward(
                    ForwardBatch(
                        viewnum: await cluster.view().viewnum, from: await cluster.address(primary), transferID: 1,
                        batchSeq: 1,
                        updates: [
                            ForwardedUpdate(
                                change: .put(Array("k".utf8), StoredValue(value: Array("forged".utf8), revision: 0)),
                                revision: 0, clientID: 9, seq: 1,
                                reply: ClientReply(status: .ok))
                        ]))
            ),
            (
                "backup", await cluster.address(backup),
                .transfer(
                    TransferChunk(
                        viewnum: await cluster.view().viewnum, from: await cluster.address(primary), transferID: 7,
                        index: 0, isLast: true, revision: 0, entries: [], duplicates: []))
            ),
        ]
        for (target, address, message) in messages {
            let socket = try await RawSocket.connect(to: PeerAddress(address)!)
            try? await socket.send(Wire.hello)
            try? await socket.send(Wire.frame(message, requestID: 2))
            try await socket.waitForClose("\(target) closes an unauthenticated connection")
            let frames = try socket.frames()
            guard case .helloAck(_, let challenge)? = frames.first?.message else {
                return XCTFail("\(target): no helloAck: \(frames)")
            }
            XCTAssertEqual(challenge.count, Authentication.nonceSize, "\(target): no challenge")
            XCTAssertEqual(frames.count, 2, "\(target): \(frames)")
            guard case .error(.authenticationFailed, _)? = frames.last?.message else {
                return XCTFail("\(target): \(frames)")
            }
        }
        let servers = try await client.servers(deadline: .now() + .seconds(5)).servers
        XCTAssertFalse(servers.contains { $0.address == stranger }, "an unauthenticated ping registered a server")
        let after = await cluster.snapshot(backup)?.store
        XCTAssertEqual(after, before, "an unauthenticated forward or transfer changed the backup")
        try await check(client, "k", "v")
    }

    func testAServerWithAnotherSecretCannotJoin() async throws {
        let cluster = try await makeCluster(secret: secret)
        let s1 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: nil)
        var configuration = ServerNode.Configuration(
            listen: .bind(PeerAddress(host: "127.0.0.1", port: 0)), advertise: "127.0.0.1:9",
            monitor: cluster.monitorAddress, pingInterval: TestCluster.pingInterval)
        configuration.secret = otherSecret
        // The impostor's own records say when the monitor has turned its pings away.
        let records = LogRecorder()
        let impostor = try await ServerNode.start(
            configuration: configuration, group: Shared.group, logger: records.logger(label: "impostor"))
        addTeardownBlock { await impostor.crash() }
        let refusedPings = 5
        try await waitUntil(
            "the monitor has refused \(refusedPings) of the impostor's pings",
            detail: { "\(records.events("ping-failed").map(\.message))" }
        ) {
            records.events("ping-failed").filter { $0.message.contains("authentication failed") }.count
                >= refusedPings
        }
        // After those pings, none of which may have registered it:
        let client = await cluster.makeClient()
        let servers = try await client.servers(deadline: .now() + .seconds(5)).servers
        let only = await cluster.address(s1)
        XCTAssertEqual(servers.map(\.address), [only])
        let view = await cluster.view()
        XCTAssertEqual(view.backup, "", "the impostor became backup")
    }
}
