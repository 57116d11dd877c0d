import XCTest

@testable import KVProtocol
@testable import ServerCore

/// At-most-once: retries are answered from the duplicate table, which travels with the
/// state to the backup.
final class DuplicateFilteringTests: XCTestCase {
    func testRetriedPutIsNotAppliedTwiceAndGetsTheSameReply() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let first = h.request("p", .put, "k", "a", client: 1, seq: 1)
        h.request("p", .put, "k", "b", client: 2, seq: 1)
        h.settle()
        let retry = h.request("p", .put, "k", "a", client: 1, seq: 1)
        h.settle()
        XCTAssertEqual(h.reply(first), ClientReply(status: .ok))
        XCTAssertEqual(h.reply(retry), ClientReply(status: .ok))
        XCTAssertEqual(h["p"].store.value(b("k")), b("b"), "the retry must not overwrite the later put")
        XCTAssertEqual(h["b"].store.value(b("k")), b("b"))
    }

    func testRetriedPutHashReturnsTheSamePreviousValue() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "k", "start", client: 9)
        let first = h.request("p", .putHash, "k", "x", client: 1, seq: 1)
        h.settle()
        let once = putHashValue(b("start"), b("x"))
        XCTAssertEqual(h.reply(first), ClientReply(status: .ok, value: b("start")))
        for _ in 0..<3 {
            let retry = h.request("p", .putHash, "k", "x", client: 1, seq: 1)
            h.settle()
            XCTAssertEqual(h.reply(retry), ClientReply(status: .ok, value: b("start")))
        }
        XCTAssertEqual(h["p"].store.value(b("k")), once)
        XCTAssertEqual(h["b"].store.value(b("k")), once)
        let next = h.request("p", .putHash, "k", "y", client: 1, seq: 2)
        h.settle()
        XCTAssertEqual(h.reply(next), ClientReply(status: .ok, value: once))
        XCTAssertEqual(h["b"].store.value(b("k")), putHashValue(once, b("y")))
    }

    func testRetryOfUnacknowledgedRequestWaitsForTheBackup() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let first = h.request("p", .putHash, "k", "x", client: 1, seq: 1)
        let retry = h.request("p", .putHash, "k", "x", client: 1, seq: 1)
        XCTAssertNil(h.reply(first))
        XCTAssertNil(h.reply(retry), "the stored reply is not confirmed yet either")
        h.settle()
        XCTAssertEqual(h.reply(first), ClientReply(status: .ok, value: []))
        XCTAssertEqual(h.reply(retry), ClientReply(status: .ok, value: []))
        XCTAssertEqual(h["b"].store.value(b("k")), putHashValue([], b("x")))
    }

    func testOlderSequenceNumberGetsStaleRequest() {
        let h = Harness(["p"])
        h.bootFirstPrimary("p")
        XCTAssertEqual(h.reply(h.request("p", .put, "k", "five", client: 1, seq: 5)), ClientReply(status: .ok))
        XCTAssertEqual(
            h.reply(h.request("p", .put, "k", "three", client: 1, seq: 3)), ClientReply(status: .staleRequest))
        XCTAssertEqual(h.reply(h.request("p", .delete, "k", client: 1, seq: 4)), ClientReply(status: .staleRequest))
        XCTAssertEqual(h["p"].store.value(b("k")), b("five"))
        XCTAssertEqual(h["p"].duplicates.lookup(1)?.seq, 5)
        XCTAssertEqual(h.reply(h.request("p", .put, "k", "six", client: 1, seq: 6)), ClientReply(status: .ok))
        // Reads are not filtered: any sequence number reads.
        XCTAssertEqual(h.reply(h.request("p", .get, "k", client: 1, seq: 1)), ClientReply(status: .ok, value: b("six")))
    }

    func testDuplicateTableIsReplicatedThroughForwards() {
        let h = Harness(["p", "b"])
        h.bootPair()
        for client in UInt64(1)...20 {
            h.request("p", .putHash, "k\(client % 3)", "v", client: client, seq: client * 10)
        }
        h.request("p", .delete, "nothing", client: 21, seq: 1)
        h.settle()
        XCTAssertEqual(h["p"].duplicates.count, 21)
        XCTAssertEqual(h["b"].duplicates.entriesInOrder(), h["p"].duplicates.entriesInOrder())
        XCTAssertEqual(h["b"].duplicates.lookup(21)?.reply, ClientReply(status: .noKey))
    }

    func testPromotedBackupAnswersRetryFromReplicatedTable() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let first = h.request("p", .putHash, "k", "x", client: 1, seq: 7)
        h.request("p", .put, "k", "later", client: 2, seq: 1)
        h.settle()
        XCTAssertEqual(h.reply(first), ClientReply(status: .ok, value: []))
        h.view(3, "b")
        let retry = h.request("b", .putHash, "k", "x", client: 1, seq: 7)
        XCTAssertEqual(h.reply(retry), ClientReply(status: .ok, value: []), "the stored reply")
        XCTAssertEqual(h["b"].store.value(b("k")), b("later"), "not applied again")
        XCTAssertEqual(h.reply(h.request("b", .put, "k", "x", client: 2, seq: 0)), ClientReply(status: .staleRequest))
    }

    func testDuplicateTableTravelsWithTransferAndSurvivesPromotion() {
        let h = Harness(["p", "b", "c"]) { $0.transferChunkBytes = 100 }
        h.bootFirstPrimary("p")
        // Filled while p had no backup: only a transfer can carry these entries.
        for client in UInt64(1)...60 {
            h.request("p", .putHash, "key\(client)", "arg", client: client, seq: 3)
        }
        h.view(2, "p", "b")
        h.settle()
        XCTAssertEqual(h["b"].duplicates.entriesInOrder(), h["p"].duplicates.entriesInOrder())
        XCTAssertEqual(h["b"].duplicates.count, 60)
        // p fails; b is promoted with c as its backup; c gets the table from b.
        h.view(3, "b", "c")
        h.settle()
        XCTAssertEqual(h["c"].duplicates.entriesInOrder(), h["p"].duplicates.entriesInOrder())
        // b fails too; c is promoted and answers p's old clients from the table.
        h.view(4, "c")
        for client in UInt64(1)...60 {
            let retry = h.request("c", .putHash, "key\(client)", "arg", client: client, seq: 3)
            XCTAssertEqual(h.reply(retry), ClientReply(status: .ok, value: []))
        }
        for client in UInt64(1)...60 {
            XCTAssertEqual(h["c"].store.value(b("key\(client)")), putHashValue([], b("arg")), "applied once")
        }
    }
}

/// The table's bound and eviction order (docs/DESIGN.md §3.8: explicit and deterministic).
final class DuplicateTableTests: XCTestCase {
    private func reply(_ n: UInt64) -> ClientReply { ClientReply(status: .ok, value: b("r\(n)")) }

    func testLookupReturnsLatestSeqAndReply() {
        var table = DuplicateTable(capacity: 10)
        XCTAssertNil(table.lookup(1))
        table.record(clientID: 1, seq: 1, reply: reply(1))
        table.record(clientID: 1, seq: 2, reply: reply(2))
        XCTAssertEqual(table.lookup(1)?.seq, 2)
        XCTAssertEqual(table.lookup(1)?.reply, reply(2))
        XCTAssertEqual(table.count, 1)
    }

    func testBoundedByCapacityEvictingLeastRecentlyUpdated() {
        var table = DuplicateTable(capacity: 3)
        for client in UInt64(1)...10 { table.record(clientID: client, seq: 1, reply: reply(client)) }
        XCTAssertEqual(table.count, 3)
        XCTAssertEqual(table.entriesInOrder().map(\.clientID), [8, 9, 10])
        XCTAssertNil(table.lookup(7))
        // Updating a client makes it the most recent.
        table.record(clientID: 8, seq: 2, reply: reply(8))
        table.record(clientID: 11, seq: 1, reply: reply(11))
        XCTAssertEqual(table.entriesInOrder().map(\.clientID), [10, 8, 11])
        XCTAssertNil(table.lookup(9))
        XCTAssertEqual(table.lookup(8)?.seq, 2)
    }

    func testEvictionMatchesReferenceModelAndStaysBounded() {
        var rng = SplitMix64(seed: 2024)
        for capacity in [1, 2, 5, 17, 100] {
            var table = DuplicateTable(capacity: capacity)
            var model: [UInt64] = []  // least recently updated first
            var seqs: [UInt64: UInt64] = [:]
            for step in 0..<5_000 {
                let client = UInt64(rng.below(capacity * 3 + 1))
                let seq = UInt64(step)
                table.record(clientID: client, seq: seq, reply: reply(seq))
                model.removeAll { $0 == client }
                model.append(client)
                seqs[client] = seq
                if model.count > capacity { model.removeFirst(model.count - capacity) }
                XCTAssertLessThanOrEqual(table.count, capacity)
            }
            XCTAssertEqual(table.entriesInOrder().map(\.clientID), model, "capacity \(capacity)")
            XCTAssertEqual(table.entriesInOrder().map(\.seq), model.map { seqs[$0]! })
        }
    }

    func testSameUpdatesGiveSameTableAndReplayingTheOrderReproducesEvictions() {
        var rng = SplitMix64(seed: 77)
        var a = DuplicateTable(capacity: 50)
        var b2 = DuplicateTable(capacity: 50)
        for step in 0..<2_000 {
            let client = UInt64(rng.below(120))
            a.record(clientID: client, seq: UInt64(step), reply: reply(UInt64(step)))
            b2.record(clientID: client, seq: UInt64(step), reply: reply(UInt64(step)))
        }
        XCTAssertEqual(a.entriesInOrder(), b2.entriesInOrder())
        // A backup rebuilds the table from the transferred order...
        var copy = DuplicateTable(capacity: 50)
        for entry in a.entriesInOrder() { copy.record(clientID: entry.clientID, seq: entry.seq, reply: entry.reply) }
        XCTAssertEqual(copy.entriesInOrder(), a.entriesInOrder())
        // ...and then forgets the same clients as the primary.
        for step in 2_000..<2_500 {
            let client = UInt64(rng.below(200))
            a.record(clientID: client, seq: UInt64(step), reply: reply(UInt64(step)))
            copy.record(clientID: client, seq: UInt64(step), reply: reply(UInt64(step)))
            XCTAssertEqual(copy.count, a.count)
        }
        XCTAssertEqual(copy.entriesInOrder(), a.entriesInOrder())
    }

    func testRemoveAll() {
        var table = DuplicateTable(capacity: 4)
        for client in UInt64(1)...6 { table.record(clientID: client, seq: 1, reply: reply(client)) }
        table.removeAll()
        XCTAssertEqual(table.count, 0)
        XCTAssertEqual(table.entriesInOrder(), [])
        table.record(clientID: 9, seq: 1, reply: reply(9))
        XCTAssertEqual(table.entriesInOrder().map(\.clientID), [9])
    }

    func testServerTableUsesConfiguredCapacityOnBothSides() {
        let h = Harness(["p", "b"]) { $0.duplicateTableCapacity = 5 }
        h.bootPair()
        for client in UInt64(1)...12 { h.request("p", .put, "k", "v\(client)", client: client, seq: 1) }
        h.settle()
        XCTAssertEqual(h["p"].duplicates.count, 5)
        XCTAssertEqual(h["p"].duplicates.entriesInOrder().map(\.clientID), [8, 9, 10, 11, 12])
        XCTAssertEqual(h["b"].duplicates.entriesInOrder(), h["p"].duplicates.entriesInOrder())
        // The documented limit: a forgotten client's retry is applied again.
        let again = h.request("p", .put, "k", "v1", client: 1, seq: 1)
        h.settle()
        XCTAssertEqual(h.reply(again), ClientReply(status: .ok))
        XCTAssertEqual(h["p"].store.value(b("k")), b("v1"))
    }
}
