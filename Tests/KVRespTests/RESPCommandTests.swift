import KVProtocol
import XCTest

@testable import KVResp

/// Command lines to commands: names without regard to case, Redis 7's arities and error
/// texts, each data command's transaction, and the introspection commands clients send.
final class RESPCommandTests: XCTestCase {
    func testNamesIgnoreCaseAndGetSetDelTakeThePlainPath() {
        XCTAssertEqual(plain("get", "k"), .get(bytes("k")))
        XCTAssertEqual(plain("GeT", "k"), .get(bytes("k")))
        XCTAssertEqual(plain("SET", "k", "v"), .set(bytes("k"), bytes("v")))
        XCTAssertEqual(plain("del", "a"), .delete(bytes("a")))
        XCTAssertEqual(plain("UNLINK", "a"), .delete(bytes("a")))
        XCTAssertEqual(
            txn("DEL", "a", "b"),
            Txn(success: [.expire(bytes("a"), .at(1), .always), .expire(bytes("b"), .at(1), .always)]),
            "a deadline long past deletes without returning the value")
        guard case .info(let sections) = command("INFO", "Replication", "keyspace") else { return XCTFail("not INFO") }
        XCTAssertEqual(sections, ["replication", "keyspace"])
    }

    func testWrongArgumentCountsAreRejectedWithRedisText() {
        let lines = [
            ["GET"], ["GET", "a", "b"], ["SET", "k"], ["DEL"], ["EXISTS"], ["DBSIZE", "x"], ["ECHO"], ["MSET", "a"],
            ["SETEX", "k", "1"], ["GETRANGE", "k", "0"], ["INCRBY", "k"], ["EXPIRE", "k"], ["TTL"], ["SCAN"],
            ["KEYS"], ["RANDOMKEY", "x"], ["MULTI", "x"], ["WATCH"], ["RENAME", "a"],
        ]
        for line in lines {
            XCTAssertEqual(
                rejection(line), .error("ERR wrong number of arguments for '\(line[0].lowercased())' command"),
                "\(line)")
        }
        // An odd MSET is found by the command itself in Redis: answered, not rejected.
        XCTAssertEqual(answer("MSET", "a", "1", "b"), .error("ERR wrong number of arguments for 'mset' command"))
    }

    func testUnknownCommandsAreRejectedAndNamed() {
        XCTAssertEqual(
            rejection(["HSET", "h", "f"]), .error("ERR unknown command 'HSET', with args beginning with: 'h' 'f' "))
        guard case .error(let message) = rejection([String(repeating: "x", count: 500)]) else { return XCTFail() }
        XCTAssertLessThan(message.count, 120, "a long name is shortened in the error")
    }

    func testSetOptionsCompileToOneTransaction() {
        let (k, v) = (bytes("k"), bytes("v"))
        XCTAssertEqual(txn("SET", "k", "v", "NX"), Txn(compares: [.absent(k)], success: [put(k, v)]))
        XCTAssertEqual(txn("SET", "k", "v", "xx"), Txn(compares: [.exists(k)], success: [put(k, v)]))
        XCTAssertEqual(
            txn("SET", "k", "v", "GET"), Txn(success: [put(k, v, returnPrevious: true)], failure: [.get(k)]))
        XCTAssertEqual(
            txn("SET", "k", "v", "NX", "GET"),
            Txn(compares: [.absent(k)], success: [put(k, v, returnPrevious: true)], failure: [.get(k)]))
        XCTAssertEqual(txn("SET", "k", "v", "EX", "10"), Txn(success: [put(k, v, .after(10_000))]))
        XCTAssertEqual(txn("SET", "k", "v", "px", "1500"), Txn(success: [put(k, v, .after(1500))]))
        XCTAssertEqual(txn("SET", "k", "v", "EXAT", "2000000000"), Txn(success: [put(k, v, .at(2_000_000_000_000))]))
        XCTAssertEqual(txn("SET", "k", "v", "PXAT", "5"), Txn(success: [put(k, v, .at(5))]))
        XCTAssertEqual(txn("SET", "k", "v", "KEEPTTL"), Txn(success: [put(k, v, .keep)]))
        XCTAssertEqual(txn("SET", "k", "v", "EX", "1", "EX", "2"), Txn(success: [put(k, v, .after(2000))]))
    }

    func testSetOptionErrorsAreRedisErrors() {
        for line in [
            ["NX", "XX"], ["EX", "1", "PX", "1"], ["KEEPTTL", "EX", "1"], ["EX"], ["bogus"], ["PERSIST"],
            ["EX", "abc", "bogus"],
        ] {
            XCTAssertEqual(answer(["SET", "k", "v"] + line), .error("ERR syntax error"), "\(line)")
        }
        XCTAssertEqual(answer("SET", "k", "v", "EX", "abc"), .error("ERR value is not an integer or out of range"))
        for time in ["0", "-1", "9223372036854776"] {
            XCTAssertEqual(answer("SET", "k", "v", "EX", time), .error("ERR invalid expire time in 'set' command"))
        }
        XCTAssertEqual(answer("SETEX", "k", "0", "v"), .error("ERR invalid expire time in 'setex' command"))
        XCTAssertEqual(answer("PSETEX", "k", "-5", "v"), .error("ERR invalid expire time in 'psetex' command"))
        XCTAssertEqual(answer("GETEX", "k", "NX"), .error("ERR syntax error"))
        XCTAssertEqual(answer("GETEX", "k", "EX", "0"), .error("ERR invalid expire time in 'getex' command"))
    }

    func testSetRepliesFromTheTransactionsResults() {
        let previous = StoredValue(value: bytes("old"), revision: 3)
        XCTAssertEqual(reply(["SET", "k", "v", "NX"], succeeded: true, [.done]), .ok)
        XCTAssertEqual(reply(["SET", "k", "v", "NX"], succeeded: false, []), .null)
        XCTAssertEqual(reply(["SET", "k", "v", "XX", "GET"], succeeded: true, [.value(previous)]), .bulk("old"))
        XCTAssertEqual(reply(["SET", "k", "v", "NX", "GET"], succeeded: false, [.value(previous)]), .bulk("old"))
        XCTAssertEqual(reply(["SET", "k", "v", "GET"], [.value(nil)]), .null)
        XCTAssertEqual(reply(["SETNX", "k", "v"], succeeded: false, []), .integer(0))
        XCTAssertEqual(reply(["SETNX", "k", "v"], [.done]), .integer(1))
        XCTAssertEqual(reply(["GETSET", "k", "v"], [.value(previous)]), .bulk("old"))
        XCTAssertEqual(reply(["GETDEL", "k"], [.value(nil)]), .null)
        XCTAssertEqual(reply(["GETEX", "k", "PERSIST"], [.value(previous), .integer(0)]), .bulk("old"))
    }

    func testStringCommandsCompileAndReply() {
        let (a, b) = (bytes("a"), bytes("b"))
        XCTAssertEqual(txn("MSET", "a", "1", "b", "2"), Txn(success: [put(a, bytes("1")), put(b, bytes("2"))]))
        XCTAssertEqual(
            txn("MSETNX", "a", "1", "b", "2"),
            Txn(compares: [.absent(a), .absent(b)], success: [put(a, bytes("1")), put(b, bytes("2"))]))
        XCTAssertEqual(txn("GETEX", "a", "EX", "5"), Txn(success: [.get(a), .expire(a, .after(5000), .always)]))
        XCTAssertEqual(txn("GETEX", "a"), Txn(success: [.get(a)]))
        XCTAssertEqual(txn("GETEX", "a", "PERSIST"), Txn(success: [.get(a), .expire(a, .never, .always)]))
        let one = StoredValue(value: bytes("1"), revision: 1)
        XCTAssertEqual(
            reply(["MGET", "a", "x", "b"], [.value(one), .value(nil), .value(one)]),
            .array([.bulk("1"), .null, .bulk("1")]))
        XCTAssertEqual(reply(["MSETNX", "a", "1"], succeeded: false, []), .integer(0))
        XCTAssertEqual(reply(["APPEND", "a", "xy"], [.integer(3)]), .integer(3))
        XCTAssertEqual(
            reply(["APPEND", "a", "xy"], [.error(.tooLarge)]), .error("ERR string exceeds maximum allowed size"))
        XCTAssertEqual(reply(["STRLEN", "a"], [.value(StoredValue(value: bytes("hello"), revision: 1))]), .integer(5))
        XCTAssertEqual(reply(["STRLEN", "a"], [.value(nil)]), .integer(0))
        XCTAssertEqual(reply(["GETRANGE", "a", "0", "-1"], [.value(nil)]), .bulk(""))
    }

    func testGetRangeFollowsRedisArithmetic() {
        let text = bytes("This is a string")
        let cases: [(Int64, Int64, String)] = [
            (0, 3, "This"), (-3, -1, "ing"), (0, -1, "This is a string"), (10, 100, "string"), (5, 3, ""),
            (-1, -5, ""), (-100, 2, "Thi"), (20, 30, ""), (0, 0, "T"),
        ]
        for (start, end, expected) in cases {
            XCTAssertEqual(StringCommands.substring(text, start, end), bytes(expected), "\(start) \(end)")
        }
        XCTAssertEqual(StringCommands.substring([], 0, -1), [])
        XCTAssertEqual(answer("GETRANGE", "k", "a", "1"), .error("ERR value is not an integer or out of range"))
    }

    func testCountersCompileToAddAndPassTheStoresErrorsOn() {
        let k = bytes("k")
        XCTAssertEqual(txn("INCR", "k"), Txn(success: [.add(k, 1)]))
        XCTAssertEqual(txn("DECR", "k"), Txn(success: [.add(k, -1)]))
        XCTAssertEqual(txn("INCRBY", "k", "-7"), Txn(success: [.add(k, -7)]))
        XCTAssertEqual(txn("DECRBY", "k", "7"), Txn(success: [.add(k, -7)]))
        XCTAssertEqual(txn("INCRBYFLOAT", "k", "2.5e1"), Txn(success: [.addFloat(k, 25)]))
        XCTAssertEqual(answer("DECRBY", "k", "-9223372036854775808"), .error("ERR decrement would overflow"))
        for bad in ["1.5", "+1", "01", " 1", "9223372036854775808", ""] {
            XCTAssertEqual(answer("INCRBY", "k", bad), .error("ERR value is not an integer or out of range"), bad)
        }
        for bad in ["abc", "nan", " 1", "1e999", ""] {
            XCTAssertEqual(answer("INCRBYFLOAT", "k", bad), .error("ERR value is not a valid float"), bad)
        }
        XCTAssertEqual(reply(["INCR", "k"], [.integer(11)]), .integer(11))
        XCTAssertEqual(
            reply(["INCR", "k"], [.error(.notInteger)]), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(reply(["INCR", "k"], [.error(.overflow)]), .error("ERR increment or decrement would overflow"))
        XCTAssertEqual(reply(["INCRBYFLOAT", "k", "1"], [.bytes(bytes("10.5"))]), .bulk("10.5"))
        XCTAssertEqual(reply(["INCRBYFLOAT", "k", "1"], [.error(.notFloat)]), .error("ERR value is not a valid float"))
    }

    func testKeyspaceCommands() {
        let stored = StoredValue(value: bytes("v"), revision: 1)
        XCTAssertEqual(reply(["DEL", "a", "b", "a"], [.integer(1), .integer(0), .integer(0)]), .integer(1))
        XCTAssertEqual(
            reply(["EXISTS", "a", "b", "a"], [.value(stored), .value(nil), .value(stored)]), .integer(2),
            "a key named twice counts twice")
        XCTAssertEqual(reply(["TYPE", "a"], [.value(stored)]), .simpleString("string"))
        XCTAssertEqual(reply(["TYPE", "a"], [.value(nil)]), .simpleString("none"))
        XCTAssertEqual(
            txn("RENAME", "a", "b"), Txn(success: [.rename(bytes("a"), to: bytes("b"), onlyIfAbsent: false)]))
        XCTAssertEqual(reply(["RENAME", "a", "b"], [.integer(1)]), .ok)
        XCTAssertEqual(reply(["RENAME", "a", "b"], [.error(.noSuchKey)]), .error("ERR no such key"))
        XCTAssertEqual(reply(["RENAMENX", "a", "b"], [.integer(0)]), .integer(0))
        XCTAssertEqual(txn("FLUSHALL", "ASYNC"), Txn(success: [.deleteAll]))
        XCTAssertEqual(txn("FLUSHDB"), Txn(success: [.deleteAll]))
        XCTAssertEqual(answer("FLUSHDB", "NOW"), .error("ERR syntax error"))
    }

    func testExpireCommandsAndTheirConditions() {
        let k = bytes("k")
        XCTAssertEqual(txn("EXPIRE", "k", "10"), Txn(success: [.expire(k, .after(10_000), .always)]))
        XCTAssertEqual(txn("PEXPIRE", "k", "10", "nx"), Txn(success: [.expire(k, .after(10), .ifNone)]))
        XCTAssertEqual(txn("EXPIREAT", "k", "100", "XX"), Txn(success: [.expire(k, .at(100_000), .ifSome)]))
        XCTAssertEqual(
            txn("EXPIRE", "k", "5", "LT", "XX"), Txn(success: [.expire(k, .after(5_000), .ifSomeAndEarlier)]))
        XCTAssertEqual(txn("PEXPIREAT", "k", "100", "GT"), Txn(success: [.expire(k, .at(100), .ifLater)]))
        XCTAssertEqual(txn("EXPIRE", "k", "1", "GT", "XX"), Txn(success: [.expire(k, .after(1000), .ifLater)]))
        XCTAssertEqual(txn("EXPIRE", "k", "1", "LT"), Txn(success: [.expire(k, .after(1000), .ifEarlier)]))
        XCTAssertEqual(txn("EXPIRE", "k", "-5"), Txn(success: [.expire(k, .at(1), .always)]), "a past time deletes")
        XCTAssertEqual(txn("PERSIST", "k"), Txn(success: [.expire(k, .never, .always)]))
        XCTAssertEqual(
            answer("EXPIRE", "k", "1", "NX", "XX"),
            .error("ERR NX and XX, GT or LT options at the same time are not compatible"))
        XCTAssertEqual(
            answer("EXPIRE", "k", "1", "GT", "LT"), .error("ERR GT and LT options at the same time are not compatible"))
        XCTAssertEqual(answer("EXPIRE", "k", "1", "SOON"), .error("ERR Unsupported option SOON"))
        XCTAssertEqual(answer("EXPIRE", "k", "x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(answer("EXPIRE", "k", "9223372036854776"), .error("ERR invalid expire time in 'expire' command"))
        XCTAssertEqual(
            answer("PEXPIRE", "k", "9223372036854775807"), .error("ERR invalid expire time in 'pexpire' command"))
        XCTAssertEqual(reply(["EXPIRE", "k", "1"], [.integer(1)]), .integer(1))
    }

    func testTimesLeftComeFromTheDeadlineAndThePrimarysClock() {
        let now: UInt64 = 1_700_000_000_000
        let expiring = StoredValue(value: [], revision: 1, expiresAt: now + 2_499)
        let lasting = StoredValue(value: [], revision: 1)
        XCTAssertEqual(reply(["TTL", "k"], [.value(expiring)], now: now), .integer(2), "rounded as Redis rounds")
        XCTAssertEqual(
            reply(["TTL", "k"], [.value(StoredValue(value: [], revision: 1, expiresAt: now + 2_500))], now: now),
            .integer(3))
        XCTAssertEqual(reply(["PTTL", "k"], [.value(expiring)], now: now), .integer(2_499))
        XCTAssertEqual(reply(["TTL", "k"], [.value(lasting)], now: now), .integer(-1))
        XCTAssertEqual(reply(["PTTL", "k"], [.value(nil)], now: now), .integer(-2))
        XCTAssertEqual(reply(["EXPIRETIME", "k"], [.value(expiring)], now: now), .integer(1_700_000_002))
        XCTAssertEqual(reply(["PEXPIRETIME", "k"], [.value(expiring)], now: now), .integer(Int64(now + 2_499)))
        XCTAssertEqual(reply(["EXPIRETIME", "k"], [.value(nil)], now: now), .integer(-2))
    }

    func testScanReadsItsOptionsAndResumesThroughTheSharedCursorTable() {
        let context = CommandContext.live(cursors: ScanCursorTable())
        XCTAssertEqual(
            txn(["SCAN", "0", "MATCH", "user:*", "COUNT", "100"], context),
            Txn(success: [
                .range(KeyRange(prefix: bytes("user:"), pattern: bytes("user:*"), limit: 100, keysOnly: true))
            ]))
        XCTAssertEqual(txn(["SCAN", "0"], context), Txn(success: [.range(KeyRange(limit: 10, keysOnly: true))]))
        let first = reply(
            ["SCAN", "0"], [.range([RangeItem(key: bytes("a"), value: nil)], next: bytes("b"))], context: context)
        guard case .array(let parts) = first, case .bulkString(let cursorText) = parts[0],
            let cursor = UInt64(cursorText.text)
        else { return XCTFail("\(first)") }
        XCTAssertNotEqual(cursor, 0)
        XCTAssertEqual(parts[1], .array([.bulk("a")]))
        XCTAssertEqual(
            txn(["SCAN", String(cursor)], context),
            Txn(success: [.range(KeyRange(start: bytes("b"), limit: 10, keysOnly: true))]),
            "the cursor resumes at the range's next key")
        XCTAssertEqual(
            reply(
                ["SCAN", "0", "TYPE", "hash"], [.range([RangeItem(key: bytes("a"), value: nil)], next: nil)],
                context: context),
            .array([.bulk("0"), .array([])]), "no value is of another type than string")
        XCTAssertEqual(answer(["SCAN", "12345"], context), .error("ERR invalid cursor"))
        XCTAssertEqual(answer(["SCAN", "-1"], context), .error("ERR invalid cursor"))
        XCTAssertEqual(answer(["SCAN", "0", "COUNT", "0"], context), .error("ERR syntax error"))
        XCTAssertEqual(answer(["SCAN", "0", "COUNT"], context), .error("ERR syntax error"))
        XCTAssertEqual(
            answer(["SCAN", "0", "COUNT", "x"], context), .error("ERR value is not an integer or out of range"))
    }

    func testKeysWalksOnUntilTheRangeHasNoNextKey() {
        guard case .data(.txn(let plan)) = command("KEYS", "*") else { return XCTFail("KEYS is no transaction") }
        guard
            case .more(let next) = plan.reply(
                results([.range([RangeItem(key: bytes("a"), value: nil)], next: bytes("b"))])),
            next.txn == Txn(success: [.range(KeyRange(start: bytes("b"), limit: KeyRange.maxLimit, keysOnly: true))])
        else { return XCTFail("KEYS does not resume at the next key") }
        guard
            case .value(let value) = next.reply(results([.range([RangeItem(key: bytes("b"), value: nil)], next: nil)]))
        else {
            return XCTFail("KEYS did not end")
        }
        XCTAssertEqual(value, .array([.bulk("a"), .bulk("b")]))
    }

    func testRandomKeyLooksFromARandomPlaceThenFromTheBeginning() {
        var context = CommandContext.live(cursors: ScanCursorTable())
        context.randomStart = { Array("m".utf8) }
        context.randomPick = { $0 - 1 }
        XCTAssertEqual(
            txn(["RANDOMKEY"], context),
            Txn(success: [
                .range(KeyRange(start: bytes("m"), limit: 32, keysOnly: true)),
                .range(KeyRange(limit: 32, keysOnly: true)),
            ]))
        let items = [RangeItem(key: bytes("a"), value: nil), RangeItem(key: bytes("b"), value: nil)]
        XCTAssertEqual(
            reply(["RANDOMKEY"], [.range([], next: nil), .range(items, next: nil)], context: context), .bulk("b"))
        XCTAssertEqual(reply(["RANDOMKEY"], [.range([], next: nil), .range([], next: nil)], context: context), .null)
    }

    func testTransactionCommandsAndLimits() {
        for (line, expected) in [("MULTI", "multi"), ("EXEC", "exec"), ("DISCARD", "discard"), ("UNWATCH", "unwatch")] {
            XCTAssertEqual("\(command(line))", expected)
        }
        guard case .watch(let keys) = command("WATCH", "a", "b") else { return XCTFail("not WATCH") }
        XCTAssertEqual(keys, [bytes("a"), bytes("b")])
        let longKey = String(repeating: "k", count: Limits.maxKeySize + 1)
        XCTAssertEqual(
            answer("SET", longKey, "v", "NX"),
            .error("ERR key of \(Limits.maxKeySize + 1) bytes exceeds the limit of 65536"))
        let large = String(repeating: "v", count: Limits.maxValueSize)
        guard case .answer(.error(let message)) = command("MSET", "a", large, "b", large) else {
            return XCTFail("an MSET larger than one update was accepted")
        }
        XCTAssertTrue(message.hasPrefix("ERR a transaction may write at most"), message)
    }

    func testHelloAndConnectionCommands() {
        XCTAssertEqual(hello("HELLO"), HelloRequest())
        XCTAssertEqual(hello("HELLO", "3"), HelloRequest(version: .resp3))
        XCTAssertEqual(hello("HELLO", "2", "SETNAME", "me"), HelloRequest(version: .resp2))
        XCTAssertEqual(
            hello("HELLO", "3", "AUTH", "default", "pw"),
            HelloRequest(version: .resp3, credentials: (bytes("default"), bytes("pw"))))
        XCTAssertEqual(answer("HELLO", "4"), .error("NOPROTO unsupported protocol version"))
        XCTAssertEqual(answer("HELLO", "x"), .error("ERR Protocol version is not an integer or out of range"))
        XCTAssertEqual(answer("HELLO", "3", "AUTH", "u"), .error("ERR Syntax error in HELLO option 'AUTH'"))
        XCTAssertEqual(answer("PING"), .simpleString("PONG"))
        XCTAssertEqual(answer("ping", "hello"), .bulk("hello"))
        XCTAssertEqual(answer("PING", "a", "b"), .error("ERR wrong number of arguments for 'ping' command"))
        XCTAssertEqual(answer("ECHO", "x y"), .bulk("x y"))
        XCTAssertEqual(answer("SELECT", "0"), .ok)
        XCTAssertEqual(answer("SELECT", "1"), .error("ERR DB index is out of range (kvservice has only database 0)"))
        XCTAssertEqual(answer("CLIENT", "SETNAME", "me"), .ok)
        XCTAssertEqual(answer("client", "setinfo", "lib-name", "x"), .ok)
        XCTAssertEqual(answer("CLIENT", "GETNAME"), .null)
        XCTAssertEqual(answer("COMMAND"), .array([]))
        XCTAssertEqual(answer("COMMAND", "DOCS"), .map([]))
        XCTAssertEqual(answer("command", "count"), .integer(Int64(RESPCommandTable.entries.count)))
        XCTAssertEqual(answer("COMMAND", "INFO", "get", "set"), .array([.null, .null]))
        XCTAssertEqual(answer("CONFIG", "GET", "save"), .map(["save": .bulk("")]))
        XCTAssertEqual(answer("CONFIG", "GET", "*"), .map(["save": .bulk(""), "appendonly": .bulk("no")]))
        XCTAssertEqual(answer("CONFIG", "GET", "maxmemory"), .map([]))
        guard case .answer(.error) = command("CONFIG", "SET", "save", "") else {
            return XCTFail("CONFIG SET was accepted")
        }
        guard case .close(.ok) = command("QUIT") else { return XCTFail("QUIT does not close") }
    }

    // MARK: - Helpers

    private let context = CommandContext.live(cursors: ScanCursorTable())

    private func command(_ words: String...) -> RESPCommand { command(words) }

    private func command(_ words: [String], _ context: CommandContext? = nil) -> RESPCommand {
        RESPCommand(arguments: words.map { Bytes($0.utf8) }, context: context ?? self.context)
    }

    private func plain(_ words: String...) -> PlainCommand? {
        if case .data(.plain(let plain)) = command(words) { return plain }
        XCTFail("\(words) does not take the plain path")
        return nil
    }

    private func plan(_ words: [String], _ context: CommandContext? = nil) -> TxnPlan? {
        if case .data(.txn(let plan)) = command(words, context) { return plan }
        XCTFail("\(words) is no transaction: \(command(words, context))")
        return nil
    }

    private func txn(_ words: String...) -> Txn? { plan(words)?.txn }
    private func txn(_ words: [String], _ context: CommandContext) -> Txn? { plan(words, context)?.txn }

    private func results(_ results: [TxnOpResult], succeeded: Bool = true, now: UInt64 = 0) -> TxnPlanResults {
        TxnPlanResults(succeeded: succeeded, results: results[...], now: now)
    }

    /// The reply of `words`'s plan, its transaction having returned `results`.
    private func reply(
        _ words: [String], succeeded: Bool = true, _ results: [TxnOpResult], now: UInt64 = 0,
        context: CommandContext? = nil
    ) -> RESPValue? {
        guard let plan = plan(words, context) else { return nil }
        guard case .value(let value) = plan.reply(self.results(results, succeeded: succeeded, now: now)) else {
            XCTFail("\(words) asks for another range")
            return nil
        }
        return value
    }

    private func answer(_ words: String...) -> RESPValue? { answer(words) }

    private func answer(_ words: [String], _ context: CommandContext? = nil) -> RESPValue? {
        if case .answer(let value) = command(words, context) { return value }
        XCTFail("\(words) is not answered on the spot")
        return nil
    }

    private func rejection(_ words: [String]) -> RESPValue? {
        if case .rejected(let value) = command(words) { return value }
        XCTFail("\(words) is not rejected")
        return nil
    }

    private func hello(_ words: String...) -> HelloRequest? {
        if case .hello(let request) = command(words) { return request }
        XCTFail("\(words) is not HELLO")
        return nil
    }

    private func put(_ key: Bytes, _ value: Bytes, _ expiry: Expiry = .never, returnPrevious: Bool = false) -> TxnOp {
        .put(key, value: value, expiry: expiry, returnPrevious: returnPrevious)
    }

    private func bytes(_ text: String) -> Bytes { Bytes(text.utf8) }
}
