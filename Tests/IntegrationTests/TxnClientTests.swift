import KVClient
import KVProtocol
import KVTestSupport
import NIOCore
import XCTest

/// KVClient's transactions and the conveniences built on them, against an in-process
/// cluster on real TCP: conditions, revisions across a failover, deadlines, scans over
/// many pages, failure branches, and at most once through lost replies.
final class TxnClientTests: XCTestCase {
    private var cluster: TestCluster!

    override func setUp() async throws {
        cluster = try await makeCluster()
    }

    /// A primary and a synchronised backup; returns their numbers.
    private func startPair(viaProxy: Bool = false) async throws -> (primary: Int, backup: Int) {
        let primary = try await cluster.addServer(viaProxy: viaProxy)
        try await cluster.waitForView(primary: primary, backup: nil)
        let backup = try await cluster.addServer(viaProxy: viaProxy)
        try await cluster.waitForView(primary: primary, backup: backup)
        return (primary, backup)
    }

    private var soon: NIODeadline { .now() + .seconds(15) }

    /// `key`'s entry, which must exist.
    private func entry(
        _ client: KVClient, _ key: Bytes, file: StaticString = #filePath, line: UInt = #line
    ) async throws -> KVEntry {
        let found = try await client.entry(key, deadline: soon)
        return try XCTUnwrap(found, "\(key.text) exists", file: file, line: line)
    }

    func testConditionalPutsApplyOnlyWhenTheirConditionHolds() async throws {
        _ = try await startPair()
        let client = await cluster.makeClient()
        let key = bytes("k")

        let absentFirst = try await client.put(key, bytes("1"), ttl: nil, condition: .ifPresent, deadline: soon)
        XCTAssertFalse(absentFirst, "--if-present on a missing key")
        let missing = try await client.entry(key, deadline: soon)
        XCTAssertNil(missing)
        let created = try await client.put(key, bytes("1"), ttl: nil, condition: .ifAbsent, deadline: soon)
        XCTAssertTrue(created)
        let createdAgain = try await client.put(key, bytes("2"), ttl: nil, condition: .ifAbsent, deadline: soon)
        XCTAssertFalse(createdAgain, "--if-absent on an existing key")
        let first = try await entry(client, key)
        XCTAssertEqual(first.value, bytes("1"))

        let stale = try await client.put(
            key, bytes("3"), ttl: nil, condition: .ifRevision(first.revision + 1), deadline: soon)
        XCTAssertFalse(stale, "a compare-and-swap on a revision the key does not have")
        let swapped = try await client.put(
            key, bytes("3"), ttl: nil, condition: .ifRevision(first.revision), deadline: soon)
        XCTAssertTrue(swapped)
        let second = try await entry(client, key)
        XCTAssertEqual(second.value, bytes("3"))
        XCTAssertGreaterThan(second.revision, first.revision)
        let replayed = try await client.put(
            key, bytes("4"), ttl: nil, condition: .ifRevision(first.revision), deadline: soon)
        XCTAssertFalse(replayed, "the same compare-and-swap a second time")

        let wrongValue = try await client.put(
            key, bytes("5"), ttl: nil, condition: .ifValue(bytes("1")), deadline: soon)
        XCTAssertFalse(wrongValue)
        let rightValue = try await client.put(
            key, bytes("5"), ttl: nil, condition: .ifValue(bytes("3")), deadline: soon)
        XCTAssertTrue(rightValue)
        let present = try await client.put(key, bytes("6"), ttl: nil, condition: .ifPresent, deadline: soon)
        XCTAssertTrue(present)
        let other = bytes("other")
        let revisionZero = try await client.put(other, bytes("x"), ttl: nil, condition: .ifRevision(0), deadline: soon)
        XCTAssertTrue(revisionZero, "revision 0 is a key that does not exist")
        let revisionZeroAgain = try await client.put(
            other, bytes("y"), ttl: nil, condition: .ifRevision(0), deadline: soon)
        XCTAssertFalse(revisionZeroAgain)
        try await check(client, "k", "6")
        try await check(client, "other", "x")
    }

    func testRevisionsIncreaseAndAreKeptThroughAFailover() async throws {
        let (primary, backup) = try await startPair()
        let client = await cluster.makeClient()
        var revisions: [String: UInt64] = [:]
        var last: UInt64 = 0
        for index in 0..<20 {
            let key = "r\(index % 7)"
            try await client.put(bytes(key), bytes("\(index)"), ttl: nil, condition: .always, deadline: soon)
            let entry = try await entry(client, bytes(key))
            XCTAssertGreaterThan(entry.revision, last, "every update has a revision of its own, increasing")
            last = entry.revision
            revisions[key] = entry.revision
        }
        // A read changes no revision.
        let reread = try await entry(client, bytes("r0"))
        XCTAssertEqual(reread.revision, revisions["r0"])

        await cluster.kill(primary)
        try await cluster.waitForView(primary: backup, backup: nil)
        let keys = revisions.keys.sorted()
        let entries = try await client.mget(keys.map { bytes($0) }, deadline: soon)
        for (key, entry) in zip(keys, entries) {
            XCTAssertEqual(entry?.revision, revisions[key], "\(key)'s revision after the failover")
        }
        let outcome = try await client.txn(
            Txn(success: [.put(bytes("after"), value: bytes("x"), expiry: .never, returnPrevious: false)]),
            deadline: soon)
        XCTAssertGreaterThan(outcome.revision, last, "the new primary numbers on from the old one's revision")
        let entry = try await entry(client, bytes("after"))
        XCTAssertEqual(entry.revision, outcome.revision)
    }

    func testAKeyWithATimeToLiveIsGoneAfterItsDeadline() async throws {
        let (_, backup) = try await startPair()
        let client = await cluster.makeClient()
        let key = bytes("short")
        // Long enough that the put's replication and the read after it (slow under
        // ThreadSanitizer) never outlast it.
        try await client.put(key, bytes("v"), ttl: .seconds(3), condition: .always, deadline: soon)
        let entry = try await entry(client, key)
        let left = try XCTUnwrap(entry.expiresIn, "a key put with a ttl has a deadline")
        XCTAssertTrue((1...3000).contains(left), "\(left) ms left")
        XCTAssertEqual(try XCTUnwrap(entry.expiresAt) - entry.now, left)
        guard case .remaining = try await client.ttl(key, deadline: soon) else {
            return XCTFail("ttl of a key with a deadline")
        }
        // An increment keeps the deadline.
        try await client.put(bytes("counter"), bytes("1"), ttl: .seconds(60), condition: .always, deadline: soon)
        let counted = try await client.increment(bytes("counter"), by: 2, deadline: soon)
        XCTAssertEqual(counted, 3)
        let counterDeadline = try await client.entry(bytes("counter"), deadline: soon)?.expiresAt
        XCTAssertNotNil(counterDeadline)

        try await waitUntil("the key is gone after its deadline", timeout: 10) {
            try await client.entry(key, deadline: soon) == nil
        }
        let ttlAfter = try await client.ttl(key, deadline: soon)
        XCTAssertEqual(ttlAfter, .absent)
        let value = try await client.get(key, deadline: soon)
        XCTAssertNil(value, "the protocol's own get agrees")
        // The primary deleted it as an update of its own, which reached the backup.
        try await waitUntil("the backup no longer holds the expired key") {
            await cluster.snapshot(backup)?.store[key] == nil
        }
    }

    func testPersistRemovesADeadline() async throws {
        _ = try await startPair()
        let client = await cluster.makeClient()
        let key = bytes("kept")
        let before = try await client.persist(key, deadline: soon)
        XCTAssertEqual(before, .absent)
        try await client.put(key, bytes("v"), ttl: .seconds(60), condition: .always, deadline: soon)
        guard case .remaining(let left) = try await client.persist(key, deadline: soon) else {
            return XCTFail("persist should report the deadline it removed")
        }
        XCTAssertTrue((1...60_000).contains(left), "\(left)")
        let ttlAfter = try await client.ttl(key, deadline: soon)
        XCTAssertEqual(ttlAfter, .noDeadline)
        let again = try await client.persist(key, deadline: soon)
        XCTAssertEqual(again, .noDeadline)
        // A plain put removes a deadline too, as Redis's SET.
        try await client.put(key, bytes("w"), ttl: .seconds(60), condition: .always, deadline: soon)
        try await client.put(key, bytes("x"), deadline: soon)
        let ttlAfterPut = try await client.ttl(key, deadline: soon)
        XCTAssertEqual(ttlAfterPut, .noDeadline)

        // A time to live too long to add to the clock keeps the key, as good as for ever.
        let farOff = Txn(success: [
            .put(bytes("far"), value: bytes("v"), expiry: .after(.max), returnPrevious: false), .get(bytes("far")),
            .expire(key, .after(.max - 1), .always), .get(key),
        ])
        let outcome = try await client.txn(farOff, deadline: soon)
        for index in [1, 3] {
            guard case .value(let stored?) = outcome.results[index] else { return XCTFail("\(outcome.results)") }
            XCTAssertEqual(stored.expiresAt, .max)
        }
    }

    /// Many keys under a prefix, among others before and after it, scanned with small
    /// pages: every key once, in order, and nothing else.
    func testAScanAcrossManyPagesReturnsEachKeyOnce() async throws {
        _ = try await startPair()
        let client = await cluster.makeClient()
        let wanted = (0..<1_200).map { "scan/\($0)" }
        let others = ["scam", "scan", "scan.", "scao/1", "a", "z"] + (0..<300).map { "scao/\($0)" }
        for batch in stride(from: 0, to: wanted.count + others.count, by: 250) {
            let keys = (wanted + others)[batch..<min(batch + 250, wanted.count + others.count)]
            let puts = keys.map { TxnOp.put(bytes($0), value: bytes("v-" + $0), expiry: .never, returnPrevious: false) }
            let outcome = try await client.txn(Txn(success: puts), deadline: soon)
            XCTAssertTrue(outcome.succeeded)
        }

        var seen: [String] = []
        for try await entry in client.scan(prefix: bytes("scan/"), pageSize: 97, pageTimeout: .seconds(15)) {
            XCTAssertEqual(entry.value, bytes("v-" + entry.key.text))
            seen.append(entry.key.text)
        }
        XCTAssertEqual(seen.count, Set(seen).count, "a key returned twice")
        XCTAssertEqual(seen, wanted.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }))

        var keys: [String] = []
        for try await key in client.scanKeys(prefix: bytes("scan/"), limit: 250, pageSize: 100) {
            keys.append(key.text)
        }
        XCTAssertEqual(keys, Array(seen.prefix(250)), "a limit stops the scan part way through a page")

        var matching: [String] = []
        for try await key in client.scanKeys(prefix: bytes("scan/"), pattern: bytes("scan/1?"), pageSize: 50) {
            matching.append(key.text)
        }
        XCTAssertEqual(matching, (10..<20).map { "scan/\($0)" })

        var all = 0
        for try await _ in client.scanKeys(pageSize: 333) { all += 1 }
        XCTAssertEqual(all, Set(wanted + others).count, "a scan without a prefix sees every key")
    }

    func testFailedComparesRunTheFailureBranch() async throws {
        _ = try await startPair()
        let client = await cluster.makeClient()
        try await client.put(bytes("state"), bytes("old"), deadline: soon)
        let txn = Txn(
            compares: [Compare(key: bytes("state"), .value(bytes("new")), .equal), .exists(bytes("state"))],
            success: [.put(bytes("state"), value: bytes("newer"), expiry: .never, returnPrevious: false)],
            failure: [
                .get(bytes("state")),
                .put(bytes("fallback"), value: bytes("ran"), expiry: .never, returnPrevious: true),
                .add(bytes("state"), 1),
            ])
        let outcome = try await client.txn(txn, deadline: soon)
        XCTAssertFalse(outcome.succeeded)
        XCTAssertEqual(outcome.results.count, 3)
        guard case .value(let stored?) = outcome.results[0] else { return XCTFail("\(outcome.results)") }
        XCTAssertEqual(stored.value, bytes("old"))
        XCTAssertEqual(outcome.results[1], .value(nil), "the previous value of a key that did not exist")
        XCTAssertEqual(outcome.results[2], .error(.notInteger), "an operation that cannot run reports why")
        try await check(client, "state", "old")
        try await check(client, "fallback", "ran")
        let fallback = try await entry(client, bytes("fallback"))
        XCTAssertEqual(fallback.revision, outcome.revision, "the failure branch's writes carry the outcome's revision")

        let holds = try await client.txn(
            Txn(
                compares: [Compare(key: bytes("state"), .value(bytes("old")), .equal)],
                success: [.delete(bytes("state"))]),
            deadline: soon)
        XCTAssertTrue(holds.succeeded)
        try await check(client, "state", nil)
    }

    func testIncrementCountsAndReportsWhatItCannotDo() async throws {
        _ = try await startPair()
        let client = await cluster.makeClient()
        let counter = bytes("n")
        let one = try await client.increment(counter, deadline: soon)
        XCTAssertEqual(one, 1)
        let minusFive = try await client.increment(counter, by: -6, deadline: soon)
        XCTAssertEqual(minusFive, -5)
        for (key, value, error) in [("text", "abc", TxnError.notInteger), ("big", "\(Int64.max)", .overflow)] {
            try await client.put(bytes(key), bytes(value), deadline: soon)
            do {
                _ = try await client.increment(bytes(key), deadline: soon)
                XCTFail("incrementing \(value)")
            } catch let failure as KVClientError {
                XCTAssertEqual(failure, .operationFailed(error))
            }
        }
        try await check(client, "big", "\(Int64.max)")
    }

    func testMgetReadsKeysInOrderWithTheAbsentOnesAsNil() async throws {
        _ = try await startPair()
        let client = await cluster.makeClient()
        let keys = (0..<600).map { "m\($0)" }
        for key in keys where key.hasSuffix("3") { try await client.put(key, "v" + key) }
        let entries = try await client.mget(keys.map { bytes($0) }, deadline: soon)
        XCTAssertEqual(entries.count, keys.count, "more keys than one transaction reads still come back")
        for (key, entry) in zip(keys, entries) {
            XCTAssertEqual(entry?.value.text, key.hasSuffix("3") ? "v" + key : nil, key)
            XCTAssertEqual(entry?.key.text, entry == nil ? nil : key)
        }
    }

    /// Increments through servers behind proxies that drop requests and replies: each is
    /// retried under its sequence number until answered, and applied exactly once.
    func testIncrementsThroughLostRepliesApplyOnce() async throws {
        let (primary, backup) = try await startPair(viaProxy: true)
        try await cluster.setUnreliable(primary, true)
        try await cluster.setUnreliable(backup, true)
        let client = await cluster.makeClient()
        for expected in 1...60 {
            let value = try await client.increment(bytes("once"), deadline: .now() + .seconds(20))
            XCTAssertEqual(value, Int64(expected), "increment #\(expected) applied twice or lost")
            if value != Int64(expected) { return }
        }
        let proxies = [try await cluster.proxy(primary), try await cluster.proxy(backup)]
        XCTAssertGreaterThan(proxies.map { $0.framesDropped(.toConnector) }.reduce(0, +), 0, "no reply was lost")
        try await cluster.setUnreliable(primary, false)
        try await cluster.setUnreliable(backup, false)
        try await check(client, "once", "60")
    }

    /// What a server would refuse as a malformed frame (it closes the connection, which a
    /// session would retry until its deadline) is refused at once, before sending.
    func testATransactionTheServiceWouldRefuseFailsAtOnce() async throws {
        let client = await cluster.makeClient()
        var nested = Txn(success: [.get(bytes("a"))])
        for _ in 0..<Txn.maxDepth { nested = Txn(success: [.txn(nested)]) }
        let tooMany = Txn(success: Array(repeating: .get(bytes("a")), count: Txn.maxItems + 1))
        let badRange = Txn(success: [.range(KeyRange(limit: 0))])
        let hugeKey = Txn(success: [.get(Bytes(repeating: 0x61, count: Limits.maxKeySize + 1))])
        for txn in [nested, tooMany, badRange, hugeKey] {
            do {
                _ = try await client.txn(txn, deadline: .now() + .seconds(60))
                XCTFail("a transaction the service refuses was sent")
            } catch KVClientError.invalid {
            }
        }
        do {
            try await client.put(
                bytes("k"), bytes("v"), ttl: .zero, condition: .always, deadline: .now() + .seconds(60))
            XCTFail("a put with a time to live of 0")
        } catch KVClientError.invalid {
        }

        // What the service takes, the client sends: the deepest nesting, the most items.
        _ = try await startPair()
        var deepest = Txn(success: [.get(bytes("a"))])
        for _ in 1..<Txn.maxDepth { deepest = Txn(success: [.txn(deepest)]) }
        let most = Txn(success: Array(repeating: .get(bytes("a")), count: Txn.maxItems))
        for txn in [deepest, most] {
            let outcome = try await client.txn(txn, deadline: soon)
            XCTAssertEqual(outcome.results.count, txn.success.count)
        }
    }
}
