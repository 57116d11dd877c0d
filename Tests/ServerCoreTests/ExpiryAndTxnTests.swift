import KVProtocol
import XCTest

@testable import ServerCore

/// Transactions and deadlines through a primary and its backup (docs/DESIGN.md §3.13).
final class ExpiryAndTxnTests: XCTestCase {
    func putWithTTL(_ h: Harness, _ key: String, _ value: String, ttl: UInt64, client: UInt64 = 1) {
        let token = h.txn(
            "p", Txn(success: [.put(b(key), value: b(value), expiry: .after(ttl), returnPrevious: false)]),
            client: client)
        h.settle()
        XCTAssertEqual(h.reply(token)?.outcome?.succeeded, true)
    }

    func testATransactionIsForwardedAsOneUpdateAndTheBackupHoldsTheSame() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let txn = Txn(
            compares: [.absent(b("lock"))],
            success: [.put(b("lock"), value: b("me"), expiry: .after(30_000), returnPrevious: false), .add(b("n"), 2)])
        let token = h.txn("p", txn)
        XCTAssertNil(h.reply(token), "held for the backup")
        let batch = h.toBackup.last?.batch
        XCTAssertEqual(batch?.updates.count, 1)
        h.settle()
        let outcome = h.reply(token)?.outcome
        XCTAssertEqual(outcome?.succeeded, true)
        XCTAssertEqual(outcome?.results.last, .integer(2))
        XCTAssertEqual(h["b"].store, h["p"].store)
        XCTAssertEqual(h["b"].store[b("lock")]?.expiresAt, h.clock + 30_000)
        XCTAssertEqual(h["b"].store.revision, outcome?.revision)
        // The same transaction again (a retry) is answered as the first time and not applied.
        let retry = h.txn("p", txn, seq: 1)
        h.settle()
        XCTAssertEqual(h.reply(retry)?.outcome, outcome)
        // A second attempt of a new request sees the lock taken.
        let second = h.txn("p", txn, client: 2)
        h.settle()
        XCTAssertEqual(h.reply(second)?.outcome?.succeeded, false)
        XCTAssertEqual(h["p"].store.value(b("n")), b("2"))
    }

    func testAReadOfAnExpiredKeyWaitsForItsDeletionToReachTheBackup() {
        let h = Harness(["p", "b"])
        h.bootPair()
        putWithTTL(h, "k", "v", ttl: 1_000)
        h.clock += 1_000
        let get = h.request("p", .get, "k", client: 2)
        XCTAssertNil(h.reply(get), "not answered before the backup has the deletion")
        let deletion = h.toBackup.last?.batch?.updates.first
        XCTAssertEqual(deletion?.change, .delete(b("k")))
        XCTAssertEqual(deletion?.clientID, ForwardedUpdate.noClient)
        h.settle()
        XCTAssertEqual(h.reply(get), ClientReply(status: .noKey))
        XCTAssertNil(h["b"].store[b("k")], "the backup deleted it because the primary said so")
        XCTAssertEqual(h["p"].counters.keysExpired, 1)
        XCTAssertEqual(h["b"].duplicates.entriesInOrder(), h["p"].duplicates.entriesInOrder())
    }

    func testThePrimaryExpiresDueKeysAtItsTicksAndTheBackupNever() {
        let h = Harness(["p", "b"])
        h.bootPair()
        for i in 0..<5 { putWithTTL(h, "k\(i)", "v", ttl: 100 * UInt64(i + 1), client: UInt64(i + 1)) }
        h.clock += 250
        h.tick("b")
        XCTAssertEqual(h["b"].store.count, 5, "a backup never expires keys on its own")
        h.tick("p")
        h.settle()
        XCTAssertEqual(h["p"].store.keysInOrder, [b("k2"), b("k3"), b("k4")])
        XCTAssertEqual(h["b"].store, h["p"].store)
    }

    func testDeadlinesAndRevisionsSurviveATransfer() {
        let h = Harness(["p", "b", "c"])
        h.bootPair()
        putWithTTL(h, "a", "1", ttl: 60_000)
        let delete = h.request("p", .put, "gone", "x", client: 2)
        h.settle()
        XCTAssertNotNil(h.reply(delete))
        h.request("p", .delete, "gone", client: 2)
        h.settle()
        let revision = h["p"].store.revision
        h.view(3, "p", "c", to: ["p", "c"])
        h.settle()
        XCTAssertEqual(h["c"].store, h["p"].store, "entries with their revisions and deadlines")
        XCTAssertEqual(h["c"].store.revision, revision, "the counter too, which the delete advanced")
        XCTAssertEqual(h["c"].store[b("a")]?.expiresAt, h["p"].store[b("a")]?.expiresAt)
    }

    func testATransactionTooLargeToForwardIsUndoneAndRefused() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let big = Bytes(repeating: 0x61, count: Limits.maxValueSize)
        for i in 0..<3 { h.request("p", .put, b("big\(i)"), big, client: 1) }
        h.settle()
        let revision = h["p"].store.revision
        let txn = Txn(success: [
            .put(b("small"), value: b("v"), expiry: .never, returnPrevious: false), .get(b("big0")), .get(b("big1")),
            .get(b("big2")),
        ])
        let token = h.txn("p", txn, client: 2)
        h.settle()
        let reply = h.reply(token)
        XCTAssertEqual(reply?.status, .invalid, "\(reply.map { $0.value.utf8String } ?? "no reply")")
        XCTAssertNil(h["p"].store[b("small")], "its write is undone")
        XCTAssertEqual(h["p"].store.revision, revision)
        XCTAssertEqual(h["b"].store, h["p"].store)
        let reads = h.txn("p", Txn(success: [.get(b("big0")), .get(b("big1")), .get(b("big2"))]), client: 3)
        h.settle()
        XCTAssertEqual(h.reply(reads)?.status, .invalid, "a read whose reply would not fit a frame is refused too")
    }

    func testTheClockNeverRunsBackForTheStore() {
        let h = Harness(["p"])
        h.bootFirstPrimary("p")
        putWithTTL(h, "k", "v", ttl: 10)
        h.clock += 10
        let first = h.request("p", .get, "k", client: 2)
        h.clock -= 5_000
        let second = h.request("p", .get, "k", client: 2)
        XCTAssertEqual(h.reply(first), ClientReply(status: .noKey))
        XCTAssertEqual(h.reply(second), ClientReply(status: .noKey), "a clock stepped back revives nothing")
    }
}

extension ExpiryAndTxnTests {
    func testAKeyARangePassesOverAsExpiredIsDeletedBeforeTheReply() {
        let h = Harness(["p", "b"])
        h.bootPair()
        putWithTTL(h, "a:1", "v", ttl: 10)
        let plain = h.request("p", .put, "a:2", "w", client: 2)
        h.settle()
        XCTAssertNotNil(h.reply(plain))
        h.clock += 10
        let scan = h.txn("p", Txn(success: [.range(KeyRange(prefix: b("a:"), limit: 10))]), client: 3)
        XCTAssertNil(h.reply(scan))
        h.settle()
        guard case .range(let items, _)? = h.reply(scan)?.outcome?.results.first else { return XCTFail("no range") }
        XCTAssertEqual(items.map(\.key), [b("a:2")])
        XCTAssertNil(h["b"].store[b("a:1")], "the backup deleted what the range left out before the reply")
        XCTAssertEqual(h["p"].counters.keysExpired, 1)
    }
}

extension ExpiryAndTxnTests {
    /// A transaction built in-process (the Redis endpoint's) never passed the codec's
    /// checks: the core makes them itself.
    func testAnOversizedKeyInsideATransactionIsRefused() {
        let h = Harness(["p"])
        h.bootFirstPrimary("p")
        let key = Bytes(repeating: 0x6B, count: Limits.maxKeySize + 1)
        let token = h.txn(
            "p",
            Txn(compares: [.absent(key)], success: [.put(key, value: b("v"), expiry: .never, returnPrevious: false)]))
        XCTAssertEqual(h.reply(token)?.status, .invalid)
        XCTAssertTrue(h["p"].store.isEmpty)
        var deep = Txn(success: [])
        for _ in 0..<Txn.maxDepth { deep = Txn(success: [.txn(deep)]) }
        XCTAssertEqual(h.reply(h.txn("p", deep))?.status, .invalid, "nested deeper than the codec allows")
    }
}

extension ExpiryAndTxnTests {
    /// Many long keys falling due together are deleted in updates and batches that each
    /// fit a frame (one batch of them all would be refused by the transport for ever).
    func testExpiriesOfManyLongKeysTravelInBatchesThatFitAFrame() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let name = Bytes(repeating: 0x6B, count: 17_000)
        var txns: [TxnOp] = []
        for i in 0..<1_000 {
            txns.append(.put(name + b("\(i)"), value: [], expiry: .after(10), returnPrevious: false))
            if txns.count == 200 {
                h.txn("p", Txn(success: txns), client: UInt64(i))
                h.settle()
                txns = []
            }
        }
        XCTAssertEqual(h["p"].store.count, 1_000)
        h.clock += 10
        h.sentBatches = []
        var ticks = 0
        while !h["p"].store.isEmpty && ticks < 100 {
            h.tick("p")
            h.settle()
            ticks += 1
        }
        XCTAssertTrue(h["p"].store.isEmpty, "every due key deleted within \(ticks) ticks")
        XCTAssertEqual(h["b"].store, h["p"].store)
        let largest = h.sentBatches.map { $0.updates.reduce(0) { $0 + $1.encodedSize } }.max() ?? 0
        XCTAssertLessThanOrEqual(largest, Limits.maxBatchFrameBytes)
        for batch in h.sentBatches {
            for update in batch.updates {
                XCTAssertLessThanOrEqual(update.encodedSize, 2 * ServerCore.maxExpiryUpdateBytes)
            }
        }
    }
}
