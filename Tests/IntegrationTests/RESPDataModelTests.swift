import KVProtocol
import KVResp
import KVServices
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

/// The Redis commands of the data model against in-process servers over real TCP: each
/// command's reply, the backup holding the same values, revisions and deadlines, a
/// failover that keeps them (and keeps an expired key gone), SCAN across connections,
/// RESP3, and WATCH/MULTI/EXEC under concurrent clients.
final class RESPDataModelTests: XCTestCase {
    func testStringCommandsAnswerAsRedisAndTheBackupHoldsTheSame() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])
        try await expect(
            redis,
            [
                (["SET", "a", "1"], .ok),
                (["SET", "a", "2", "NX"], .null),
                (["SET", "a", "3", "XX", "GET"], .bulk("1")),
                (["SET", "b", "x", "XX"], .null),
                (["SET", "b", "x", "NX", "GET"], .null),
                (["SET", "a", "4", "NX", "GET"], .bulk("3")),
                (["SET", "a", "5", "bogus"], .error("ERR syntax error")),
                (["SET", "a", "5", "EX", "0"], .error("ERR invalid expire time in 'set' command")),
                (["SETNX", "b", "y"], .integer(0)),
                (["SETNX", "c", "y"], .integer(1)),
                (["SETEX", "e", "100", "v"], .ok),
                (["PSETEX", "p", "100000", "v"], .ok),
                (["GETSET", "c", "z"], .bulk("y")),
                (["GETDEL", "c"], .bulk("z")),
                (["GETDEL", "c"], .null),
                (["GETEX", "a", "EX", "200"], .bulk("3")),
                (["GETEX", "a", "PERSIST"], .bulk("3")),
                (["MSET", "m1", "1", "m2", "2"], .ok),
                (["MGET", "m1", "nothing", "m2"], .array([.bulk("1"), .null, .bulk("2")])),
                (["MSETNX", "m2", "x", "m3", "x"], .integer(0)),
                (["MSETNX", "m3", "3", "m4", "4"], .integer(1)),
                (["APPEND", "s", "Hello"], .integer(5)),
                (["APPEND", "s", " World"], .integer(11)),
                (["STRLEN", "s"], .integer(11)),
                (["STRLEN", "nothing"], .integer(0)),
                (["GETRANGE", "s", "0", "4"], .bulk("Hello")),
                (["GETRANGE", "s", "-5", "-1"], .bulk("World")),
                (["INCR", "n"], .integer(1)),
                (["INCRBY", "n", "10"], .integer(11)),
                (["DECR", "n"], .integer(10)),
                (["DECRBY", "n", "3"], .integer(7)),
                (["INCR", "s"], .error("ERR value is not an integer or out of range")),
                (["INCRBY", "n", "x"], .error("ERR value is not an integer or out of range")),
                (["SET", "max", "9223372036854775807"], .ok),
                (["INCR", "max"], .error("ERR increment or decrement would overflow")),
                (["INCRBYFLOAT", "f", "10.5"], .bulk("10.5")),
                (["INCRBYFLOAT", "f", "0.1"], .bulk("10.6")),
                (["INCRBYFLOAT", "s", "1"], .error("ERR value is not a valid float")),
            ])
        guard case .integer(let ttl) = try await redis.call("TTL", "e") else { return XCTFail("no TTL") }
        XCTAssertTrue((90...100).contains(ttl), "SETEX 100 has \(ttl) s left")
        try await expectSameStoreOnBothServers(setup)
        let backupStore = await setup.cluster.snapshot(setup.backup)?.store
        XCTAssertEqual(backupStore?.value(bytes("f")), bytes("10.6"))
        XCTAssertEqual(backupStore?[bytes("e")]?.hasDeadline, true, "the backup holds the deadline")
        XCTAssertEqual(backupStore?[bytes("a")]?.hasDeadline, false, "PERSIST removed it there too")
    }

    func testKeyspaceAndExpiryCommands() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])
        try await expect(
            redis,
            [
                (["MSET", "k1", "a", "k2", "b", "k3", "c"], .ok),
                (["EXISTS", "k1", "k2", "nothing", "k1"], .integer(3)),
                (["TYPE", "k1"], .simpleString("string")),
                (["TYPE", "nothing"], .simpleString("none")),
                (["TTL", "k1"], .integer(-1)),
                (["TTL", "nothing"], .integer(-2)),
                (["EXPIRE", "k1", "100"], .integer(1)),
                (["EXPIRE", "k1", "200", "NX"], .integer(0)),
                (["EXPIRE", "k1", "50", "GT"], .integer(0)),
                (["EXPIRE", "k1", "300", "GT"], .integer(1)),
                (["EXPIRE", "k2", "300", "XX"], .integer(0)),
                (["EXPIRE", "k2", "300", "LT"], .integer(1)),
                (["EXPIRE", "nothing", "10"], .integer(0)),
                (
                    ["EXPIRE", "k1", "1", "NX", "XX"],
                    .error("ERR NX and XX, GT or LT options at the same time are not compatible")
                ),
                (["PERSIST", "k1"], .integer(1)),
                (["PERSIST", "k1"], .integer(0)),
                (["PEXPIREAT", "k3", "4102444800000"], .integer(1)),
                (["PEXPIRETIME", "k3"], .integer(4_102_444_800_000)),
                (["EXPIRETIME", "k3"], .integer(4_102_444_800)),
                (["EXPIRETIME", "k1"], .integer(-1)),
                (["RENAME", "k3", "k4"], .ok),
                (["PEXPIRETIME", "k4"], .integer(4_102_444_800_000)),
                (["RENAME", "nothing", "k5"], .error("ERR no such key")),
                (["RENAMENX", "k4", "k1"], .integer(0)),
                (["RENAMENX", "k4", "k5"], .integer(1)),
                (["DEL", "k5", "nothing"], .integer(1)),
                (["UNLINK", "k2"], .integer(1)),
                (["EXPIRE", "k1", "-1"], .integer(1)),
                (["EXISTS", "k1"], .integer(0)),
                (["DBSIZE"], .integer(0)),
            ])
        try await expectSameStoreOnBothServers(setup)

        let keys = (0..<25).map { "key:\($0)" }
        _ = try await redis.call(["MSET"] + keys.flatMap { [$0, "v"] })
        _ = try await redis.call("SET", "other", "v")
        guard case .array(let all) = try await redis.call("KEYS", "key:*") else { return XCTFail("KEYS is no array") }
        XCTAssertEqual(all.map { "\($0)" }.sorted(), keys.map { "\(RESPValue.bulk($0))" }.sorted())
        guard case .bulkString(let random) = try await redis.call("RANDOMKEY") else { return XCTFail("no RANDOMKEY") }
        XCTAssertTrue(keys.contains(random.text) || random.text == "other", random.text)
        let size = try await redis.call("DBSIZE")
        XCTAssertEqual(size, .integer(26))

        // FLUSHALL is replicated: the backup is empty too.
        let flushed = try await redis.call("FLUSHALL")
        XCTAssertEqual(flushed, .ok)
        let backupKeys = await setup.cluster.snapshot(setup.backup)?.keys
        XCTAssertEqual(backupKeys, 0)
        let none = try await redis.call("RANDOMKEY")
        XCTAssertEqual(none, .null)
    }

    func testADelOfSeveralLargeValuesKeepsReplicationGoing() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])
        let large = String(repeating: "x", count: Limits.maxValueSize)
        let keys = (0..<5).map { "large\($0)" }
        for key in keys {
            let set = try await redis.call("SET", key, large)
            XCTAssertEqual(set, .ok)
        }
        // 20 MiB of values: a transaction whose results carried them would not fit in
        // one forward to the backup.
        let deleted = try await redis.call(["DEL"] + keys + ["nothing"])
        XCTAssertEqual(deleted, .integer(5))
        let after = try await redis.call("SET", "after", "1")
        XCTAssertEqual(after, .ok, "the backup took the deletion and confirms what follows")
        try await expectSameStoreOnBothServers(setup)
    }

    func testScanCursorsWorkAcrossConnectionsAndVisitEveryKeyOnce() async throws {
        let setup = try await makeRESPCluster()
        let connections = [
            try await connectRESP(setup.respAddresses[setup.primary]),
            try await connectRESP(setup.respAddresses[setup.primary]),
        ]
        let keys = (0..<57).map { "user:\($0)" }
        _ = try await connections[0].call(["MSET"] + keys.flatMap { [$0, "v"] } + ["other", "v"])
        var cursor = "0"
        var seen: [String] = []
        var calls = 0
        repeat {
            // Each call on the other connection, as a client pool would send them.
            let reply = try await connections[calls % 2].call("SCAN", cursor, "MATCH", "user:*", "COUNT", "10")
            guard case .array(let parts) = reply, parts.count == 2, case .bulkString(let next) = parts[0],
                case .array(let found) = parts[1]
            else { return XCTFail("SCAN reply \(reply)") }
            XCTAssertNotNil(UInt64(next.text), "a cursor is a decimal 64-bit number: \(next.text)")
            seen += found.compactMap { if case .bulkString(let key) = $0 { key.text } else { nil } }
            cursor = next.text
            calls += 1
        } while cursor != "0" && calls < 100
        XCTAssertEqual(cursor, "0", "the walk ends")
        XCTAssertEqual(seen.sorted(), keys.sorted(), "every key once")
        XCTAssertGreaterThanOrEqual(calls, 6, "COUNT bounds each call")
        let unknown = try await connections[0].call("SCAN", "999999999")
        XCTAssertEqual(unknown, .error("ERR invalid cursor"))
        let typed = try await connections[0].call("SCAN", "0", "TYPE", "list", "COUNT", "1000")
        XCTAssertEqual(typed, .array([.bulk("0"), .array([])]))
    }

    func testHello3SwitchesToRESP3AndHello2SwitchesBack() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])
        // The GET before HELLO is answered in RESP2 even though it is pipelined with it.
        try await redis.send([["GET", "nothing"], ["HELLO", "3"], ["GET", "nothing"]])
        let before = try await redis.rawReplies(1)
        XCTAssertEqual(before, "$-1\r\n")
        let hello = try await redis.replies(1)[0]
        guard case .map(let pairs) = hello else { return XCTFail("HELLO 3 is no map: \(hello)") }
        let fields = Dictionary(uniqueKeysWithValues: pairs.map { ("\($0.key)", $0.value) })
        XCTAssertEqual(fields["\(RESPValue.bulk("proto"))"], .integer(3))
        XCTAssertEqual(fields["\(RESPValue.bulk("role"))"], .bulk("master"))
        let after = try await redis.rawReplies(1)
        XCTAssertEqual(after, "_\r\n")

        try await redis.send([
            ["MULTI"], ["GET", "nothing"], ["EXEC"], ["CONFIG", "GET", "save"], ["INFO", "keyspace"],
        ])
        let replies = try await redis.rawReplies(5)
        XCTAssertTrue(
            replies.hasPrefix("+OK\r\n+QUEUED\r\n*1\r\n_\r\n%1\r\n$4\r\nsave\r\n$0\r\n\r\n=")
                && replies.contains("txt:# Keyspace"),
            replies)

        // A watched key changed: RESP3's null, RESP2's null array after HELLO 2.
        for (version, null) in [("3", "_\r\n"), ("2", "*-1\r\n")] {
            _ = try await redis.call("HELLO", version)
            _ = try await redis.call("WATCH", "w")
            _ = try await redis.call("SET", "w", version)
            try await redis.send([["MULTI"], ["GET", "w"], ["EXEC"]])
            let aborted = try await redis.rawReplies(3)
            XCTAssertEqual(aborted, "+OK\r\n+QUEUED\r\n" + null, "protocol \(version)")
        }
        let unsupported = try await redis.call("HELLO", "4")
        XCTAssertEqual(unsupported, .error("NOPROTO unsupported protocol version"))
    }

    func testAFailoverKeepsValuesRevisionsAndDeadlinesAndAnExpiredKeyStaysGone() async throws {
        let setup = try await makeRESPCluster()
        let redis = try await connectRESP(setup.respAddresses[setup.primary])
        try await expect(
            redis,
            [
                (["SET", "kept", "v", "EX", "1000"], .ok), (["INCRBY", "counter", "41"], .integer(41)),
                (["SET", "short", "gone soon", "PX", "300"], .ok),
            ])
        guard case .integer(let deadline) = try await redis.call("PEXPIRETIME", "short") else {
            return XCTFail("no deadline")
        }
        // Wait on the clock alone: no read of the key on the primary deletes it first.
        try await waitUntil("the short key's deadline has passed", timeout: 10) { WallClock.millis() > deadline }
        let before = await setup.cluster.snapshot(setup.backup)?.store
        await setup.cluster.kill(setup.primary)
        try await setup.cluster.waitForView(primary: setup.backup, backup: nil)

        let promoted = try await connectRESP(setup.respAddresses[setup.backup])
        try await expect(
            promoted,
            [
                (["GET", "short"], .null), (["EXISTS", "short"], .integer(0)), (["GET", "kept"], .bulk("v")),
                (["INCR", "counter"], .integer(42)),
            ])
        guard case .integer(let left) = try await promoted.call("TTL", "kept") else { return XCTFail("no TTL") }
        XCTAssertTrue((990...1000).contains(left), "the deadline came across: \(left) s left")
        let after = await setup.cluster.snapshot(setup.backup)?.store
        XCTAssertEqual(
            after?[bytes("kept")], before?[bytes("kept")], "the same value, revision and deadline on the new primary")
    }

    func testWatchMultiExecRetryLoopsOfConcurrentClientsLoseNoIncrement() async throws {
        let setup = try await makeRESPCluster()
        let clients = 4
        let increments = 15
        let address = setup.respAddresses[setup.primary]
        let aborted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                let redis = try await connectRESP(address)
                group.addTask { try await Self.increment(redis, times: increments) }
            }
            return try await group.reduce(0, +)
        }
        let redis = try await connectRESP(address)
        let total = try await redis.call("GET", "counter")
        XCTAssertEqual(total, .bulk(String(clients * increments)), "\(aborted) EXECs were aborted and retried")
        try await expectSameStoreOnBothServers(setup)
    }

    /// `times` increments of "counter" by read, then MULTI/SET/EXEC under WATCH, retried
    /// while EXEC answers null; returns how many EXECs were aborted.
    private static func increment(_ redis: RESPTestConnection, times: Int) async throws -> Int {
        var aborted = 0
        for _ in 0..<times {
            var attempts = 0
            while true {
                attempts += 1
                guard attempts < 200 else { throw TestSetupError("no EXEC went through in 200 attempts") }
                _ = try await redis.call("WATCH", "counter")
                let current = try await redis.call("GET", "counter")
                let value = if case .bulkString(let text) = current { Int(text.text) ?? 0 } else { 0 }
                try await redis.send([["MULTI"], ["SET", "counter", String(value + 1)], ["EXEC"]])
                let replies = try await redis.replies(3)
                if replies[2] == .nullArray {
                    aborted += 1
                    continue
                }
                guard replies[2] == .array([.ok]) else { throw TestSetupError("EXEC answered \(replies)") }
                break
            }
        }
        return aborted
    }

    // MARK: - Helpers

    private func expect(
        _ redis: RESPTestConnection, _ exchanges: [([String], RESPValue)], file: StaticString = #filePath,
        line: UInt = #line
    ) async throws {
        for (words, expected) in exchanges {
            let reply = try await redis.call(words)
            XCTAssertEqual(reply, expected, "\(words.joined(separator: " "))", file: file, line: line)
        }
    }

    /// Every reply was held until the backup confirmed it, so the backup's store equals the
    /// primary's: values, revisions and deadlines.
    private func expectSameStoreOnBothServers(
        _ setup: RESPCluster, file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let primary = await setup.cluster.snapshot(setup.primary)?.store
        let backup = await setup.cluster.snapshot(setup.backup)?.store
        guard let primary, let backup else { return XCTFail("a server is not running", file: file, line: line) }
        XCTAssertEqual(primary.differences(from: backup, this: "primary", other: "backup"), [], file: file, line: line)
    }
}
