import KVClient
import KVProtocol
import KVResp
import KVServices
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

/// The Redis-protocol endpoint in front of in-process servers, over raw TCP: its commands
/// take the replication path of every client request, pipelined replies come back in
/// order, and a server that is not the primary says which one is.
final class RESPTests: XCTestCase {
    func testDataCommandsGoThroughTheReplicationPath() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])

        let ok = try await redis.call("SET", "greeting", "hello")
        XCTAssertEqual(ok, .ok)
        let value = try await redis.call("GET", "greeting")
        XCTAssertEqual(value, .bulk("hello"))
        let missing = try await redis.call("GET", "nothing")
        XCTAssertEqual(missing, .null)
        _ = try await redis.call("SET", "other", "x")
        let exists = try await redis.call("EXISTS", "greeting", "nothing", "other", "greeting")
        XCTAssertEqual(exists, .integer(3))
        let size = try await redis.call("DBSIZE")
        XCTAssertEqual(size, .integer(2))

        // Acknowledged, so the backup holds it, and a native client reads it.
        let backupStore = await setup.cluster.snapshot(setup.backup)?.store
        XCTAssertEqual(backupStore?.value(bytes("greeting")), bytes("hello"))
        let client = await setup.cluster.makeClient()
        try await check(client, "greeting", "hello")
        try await client.put("native", "written natively")
        let native = try await redis.call("GET", "native")
        XCTAssertEqual(native, .bulk("written natively"))

        let deleted = try await redis.call("DEL", "greeting", "nothing", "native")
        XCTAssertEqual(deleted, .integer(2))
        try await check(client, "greeting", nil)
        let backupAfter = await setup.cluster.snapshot(setup.backup)?.store
        XCTAssertNil(backupAfter?[bytes("native")])
    }

    func testPingEchoAndInfo() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])
        let pong = try await redis.call("PING")
        XCTAssertEqual(pong, .simpleString("PONG"))
        let echoed = try await redis.call("ECHO", "hi there")
        XCTAssertEqual(echoed, .bulk("hi there"))
        _ = try await redis.call("SET", "k", "v")

        guard case .bulkString(let info) = try await redis.call("INFO") else { return XCTFail("INFO is no bulk") }
        let lines = Set(info.text.split(separator: "\r\n").map(String.init))
        let backupAddress = PeerAddress(await setup.cluster.address(setup.backup))!
        for expected in [
            "# Server", "redis_version:7.0.0", "# Replication", "role:master", "connected_slaves:1",
            "slave0:ip=\(backupAddress.host),port=\(backupAddress.port),state=online,offset=0,lag=0", "# Keyspace",
            "db0:keys=1,expires=0,avg_ttl=0", "tcp_port:\(setup.respAddresses[setup.primary].port)",
        ] {
            XCTAssertTrue(lines.contains(expected), "INFO lacks \(expected):\n\(info.text)")
        }
        guard case .bulkString(let section) = try await redis.call("INFO", "replication") else {
            return XCTFail("INFO replication is no bulk")
        }
        XCTAssertTrue(section.text.hasPrefix("# Replication\r\n"), section.text)
        XCTAssertFalse(section.text.contains("# Server"), section.text)
    }

    func testAPipelinedBatchIsAnsweredInOrder() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])
        let count = 1000
        // Each SET is followed by a GET of the key before it: a reply out of place shows.
        var commands: [[String]] = []
        for index in 0..<count {
            commands.append(["SET", "p\(index)", "value \(index)"])
            commands.append(["GET", "p\(max(0, index - 1))"])
        }
        try await redis.send(commands)
        let replies = try await redis.replies(2 * count)
        for index in 0..<count {
            XCTAssertEqual(replies[2 * index], .ok, "reply to SET p\(index)")
            XCTAssertEqual(replies[2 * index + 1], .bulk("value \(max(0, index - 1))"), "reply to GET p\(index - 1)")
        }
        let client = await setup.cluster.makeClient()
        try await check(client, "p0", "value 0")
        try await check(client, "p\(count - 1)", "value \(count - 1)")
        let size = try await redis.call("DBSIZE")
        XCTAssertEqual(size, .integer(Int64(count)))
    }

    func testANonPrimaryNamesThePrimaryAndTheBackupServesOnceItTakesOver() async throws {
        let setup = try await makeRESPCluster()
        let primaryAddress = await setup.cluster.address(setup.primary)
        let onPrimary = try await connectRESP(setup.respAddresses[setup.primary])
        _ = try await onPrimary.call("SET", "kept", "across fail-over")

        let onBackup = try await connectRESP(setup.respAddresses[setup.backup])
        let notPrimary = RESPValue.error("ERR not the primary; primary is \(primaryAddress)")
        try await onBackup.send([["GET", "kept"], ["SET", "kept", "lost"], ["DBSIZE"], ["PING"]])
        let replies = try await onBackup.replies(4)
        XCTAssertEqual(replies, [notPrimary, notPrimary, notPrimary, .simpleString("PONG")])
        guard case .bulkString(let info) = try await onBackup.call("INFO", "replication") else {
            return XCTFail("INFO is no bulk")
        }
        XCTAssertTrue(info.text.contains("role:slave\r\n"), info.text)
        XCTAssertTrue(info.text.contains("master_link_status:up\r\n"), info.text)

        await setup.cluster.kill(setup.primary)
        try await setup.cluster.waitForView(primary: setup.backup, backup: nil)
        let promoted = try await onBackup.call("GET", "kept")
        XCTAssertEqual(promoted, .bulk("across fail-over"))
    }

    func testAClientThatShutsDownItsSideStillGetsEveryReply() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])
        try await redis.send([["SET", "half", "closed"], ["GET", "half"], ["PING"]])
        await redis.socket.shutdownOutput()
        let replies = try await redis.replies(3)
        XCTAssertEqual(replies, [.ok, .bulk("closed"), .simpleString("PONG")])
        try await redis.socket.waitForClose("the server closes the connection after answering")
    }

    func testBadInputIsAnsweredWithAnErrorAndTheConnectionCloses() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])
        try await redis.send([["SET", "before", "1"]])
        try await redis.socket.send(Array("*2\r\n$3\r\nGET\r\n$\(Limits.maxValueSize + 1)\r\n".utf8))
        let replies = try await redis.replies(2)
        XCTAssertEqual(replies[0], .ok)
        guard case .error(let message) = replies[1] else { return XCTFail("no error: \(replies[1])") }
        XCTAssertTrue(message.hasPrefix("ERR Protocol error: invalid bulk length"), message)
        try await redis.socket.waitForClose("the server closes the connection")

        let again = try await connectRESP(setup.respAddresses[setup.primary])
        let value = try await again.call("GET", "before")
        XCTAssertEqual(value, .bulk("1"), "the server keeps serving")
    }

    func testWithASharedSecretEveryCommandWaitsForAuth() async throws {
        let secret = try SharedSecret(Array("correct horse battery staple".utf8))
        let cluster = try await makeCluster(secret: secret)
        let primary = try await cluster.addServer()
        try await cluster.waitForView(primary: primary, backup: nil)
        let running = await cluster.node(primary)
        let listener = try await RESPListener.start(
            source: .bind(PeerAddress(host: "127.0.0.1", port: 0)), backend: try XCTUnwrap(running),
            group: Shared.group, logger: Shared.logger, secret: secret)
        addTeardownBlock { await listener.close() }
        let redis = try await connectRESP(try XCTUnwrap(listener.localAddress))

        for words in [["SET", "k", "v"], ["GET", "k"], ["PING"], ["INFO"], ["DBSIZE"]] {
            let reply = try await redis.call(words)
            XCTAssertEqual(reply, .error("NOAUTH Authentication required."), "\(words)")
        }
        let wrong = try await redis.call("AUTH", "not the secret")
        XCTAssertEqual(wrong, .error("WRONGPASS invalid username-password pair or user is disabled."))
        let stillRefused = try await redis.call("GET", "k")
        XCTAssertEqual(stillRefused, .error("NOAUTH Authentication required."))
        let right = try await redis.call("AUTH", "default", "correct horse battery staple")
        XCTAssertEqual(right, .ok)
        let set = try await redis.call("SET", "k", "v")
        XCTAssertEqual(set, .ok)
        let get = try await redis.call("GET", "k")
        XCTAssertEqual(get, .bulk("v"))
        let status = await cluster.snapshot(primary)
        XCTAssertEqual(status?.store.value(bytes("k")), bytes("v"))
    }
}
