import XCTest

@testable import KVProtocol
@testable import ServerCore

/// Updates and reads are confirmed by the backup before the client hears back.
final class ForwardingTests: XCTestCase {
    func testWithoutBackupPrimaryRepliesAtOnce() {
        let h = Harness(["p"])
        h.bootFirstPrimary("p")
        XCTAssertEqual(h.reply(h.request("p", .put, "k", "v")), ClientReply(status: .ok))
        XCTAssertEqual(h.reply(h.request("p", .get, "k")), ClientReply(status: .ok, value: b("v")))
        XCTAssertEqual(h.reply(h.request("p", .putHash, "k", "x")), ClientReply(status: .ok, value: b("v")))
        XCTAssertEqual(
            h.reply(h.request("p", .get, "k")), ClientReply(status: .ok, value: putHashValue(b("v"), b("x"))))
        XCTAssertEqual(h.reply(h.request("p", .get, "missing")), ClientReply(status: .noKey))
        XCTAssertTrue(h.toBackup.isEmpty)
        XCTAssertEqual(h["p"].pendingReplies, 0)
    }

    func testPutReplyWaitsForBackupAcknowledgement() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let put = h.request("p", .put, "k", "v")
        XCTAssertNil(h.reply(put), "no reply before the backup acknowledges")
        XCTAssertEqual(h["p"].pendingReplies, 1)
        XCTAssertEqual(h.toBackup.count, 1)
        let batch = try! XCTUnwrap(h.toBackup[0].batch)
        XCTAssertEqual(batch.viewnum, 2)
        XCTAssertEqual(batch.from, "p")
        XCTAssertEqual(batch.updates.map(\.key), [b("k")])
        h.tick("p")
        XCTAssertNil(h.reply(put), "time alone does not release it")
        h.deliverToBackup()
        XCTAssertNil(h.reply(put), "the backup applied it, but its answer has not arrived")
        h.deliverToPrimary()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertEqual(h["p"].pendingReplies, 0)
    }

    func testBackupAppliesForwardedUpdates() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "a", "1", client: 1)
        h.request("p", .put, "c", "3", client: 2)
        h.request("p", .putHash, "a", "x", client: 3)
        h.request("p", .delete, "c", client: 4)
        h.request("p", .put, [0, 255], [1, 0, 2], client: 5)
        h.settle()
        let expected: [Bytes: Bytes] = [b("a"): putHashValue(b("1"), b("x")), [0, 255]: [1, 0, 2]]
        XCTAssertEqual(h["p"].store.values, expected)
        XCTAssertEqual(h["b"].store, h["p"].store)
        XCTAssertEqual(h["b"].duplicates.entriesInOrder(), h["p"].duplicates.entriesInOrder())
    }

    func testPutHashForwardsTheComputedValue() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "k", "base")
        h.settle()
        h.request("p", .putHash, "k", "arg", client: 2)
        let update = try! XCTUnwrap(h.toBackup.last?.batch?.updates.first)
        XCTAssertTrue(update.isPut)
        XCTAssertEqual(update.value, putHashValue(b("base"), b("arg")), "the backup never recomputes")
        XCTAssertEqual(update.reply, ClientReply(status: .ok, value: b("base")))
    }

    func testGetWaitsForBackupAcknowledgement() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "k", "v")
        h.settle()
        let get = h.request("p", .get, "k", client: 2)
        XCTAssertNil(h.reply(get), "a read is confirmed by the backup too")
        XCTAssertEqual(h.toBackup.count, 1)
        XCTAssertEqual(h.toBackup[0].batch?.updates, [], "an empty batch proves the backup accepts us")
        h.deliverToBackup()
        XCTAssertNil(h.reply(get))
        h.deliverToPrimary()
        XCTAssertEqual(h.reply(get), ClientReply(status: .ok, value: b("v")))
    }

    func testReadOfUnacknowledgedUpdateWaitsForThatUpdate() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let put = h.request("p", .put, "k", "new", client: 1)
        let get = h.request("p", .get, "k", client: 2)
        XCTAssertEqual(h.toBackup.count, 2, "batch 1 (put), batch 2 (the read)")
        h.deliverToBackup()
        h.deliverToPrimary()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertNil(h.reply(get), "the read's own batch is not acknowledged yet")
        h.settle()
        XCTAssertEqual(h.reply(get), ClientReply(status: .ok, value: b("new")))
    }

    func testSeveralBatchesInFlightReleaseRepliesInOrder() {
        let h = Harness(["p", "b"]) { $0.maxBatchesInFlight = 3 }
        h.bootPair()
        let tokens = (1...5).map { h.request("p", .put, "k\($0)", "v\($0)", client: UInt64($0)) }
        XCTAssertEqual(h.toBackup.compactMap(\.batch?.batchSeq), [1, 2, 3], "window of 3 batches")
        XCTAssertEqual(h.toBackup.compactMap(\.batch?.updates.count), [1, 1, 1])
        for _ in 0..<3 { h.deliverToBackup() }
        XCTAssertEqual(h.toPrimary.count, 3)
        XCTAssertTrue(h.replyOrder.isEmpty)
        // The answer to batch 2 arrives first: it covers batch 1 too.
        h.deliverToPrimary(at: 1)
        XCTAssertEqual(h.replyOrder, [tokens[0], tokens[1]])
        XCTAssertEqual(h.toBackup.compactMap(\.batch?.batchSeq), [4], "the window opened: requests 4 and 5 together")
        XCTAssertEqual(h.toBackup[0].batch?.updates.count, 2)
        h.deliverToPrimary(at: 0)  // the late answer to batch 1 releases nothing new
        XCTAssertEqual(h.replyOrder, [tokens[0], tokens[1]])
        h.deliverToPrimary(at: 0)  // batch 3
        XCTAssertEqual(h.replyOrder, Array(tokens[0..<3]))
        h.settle()
        XCTAssertEqual(h.replyOrder, tokens)
        for token in tokens { XCTAssertEqual(h.reply(token), ClientReply(status: .ok)) }
        XCTAssertEqual(h["b"].store, h["p"].store)
    }

    func testFullWindowDefersRequestsUntilAcknowledged() {
        let h = Harness(["p", "b"]) {
            $0.maxBatchesInFlight = 1
            $0.maxBatchUpdates = 2
        }
        h.bootPair()
        let tokens = (1...5).map { h.request("p", .put, "k\($0)", "v\($0)", client: UInt64($0)) }
        // Batch 1 holds request 1; the open batch holds 2 and 3 and is full; 4 and 5 wait.
        XCTAssertEqual(h.toBackup.count, 1)
        XCTAssertEqual(h["p"].deferredRequests, 2)
        XCTAssertNil(h["p"].store.value(b("k4")), "deferred requests are not applied yet")
        h.settle()
        XCTAssertEqual(h["p"].deferredRequests, 0)
        XCTAssertEqual(h.replyOrder, tokens)
        XCTAssertEqual(h["b"].store, h["p"].store)
        XCTAssertEqual(h["b"].store.count, 5)
    }

    func testLostBatchIsResentAfterResendTicksAndAppliedOnce() {
        let h = Harness(["p", "b"]) { $0.resendAfterTicks = 4 }
        h.bootPair()
        let put = h.request("p", .putHash, "k", "x")
        let lost = h.dropToBackup()
        for _ in 0..<3 {
            h.tick("p")
            XCTAssertTrue(h.toBackup.isEmpty, "not resent before resendAfterTicks")
        }
        h.tick("p")
        XCTAssertEqual(h.toBackup.count, 1, "resent after 4 ticks without an answer")
        XCTAssertEqual(h.toBackup[0].batch, lost.batch, "the same batch, same number")
        let resent = h.toBackup[0]
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok, value: []))
        // A later batch, then the original (delayed) and the resend again: neither is
        // applied a second time, or the older value would come back.
        let put2 = h.request("p", .put, "k", "second", client: 2)
        h.settle()
        XCTAssertEqual(h.reply(put2), ClientReply(status: .ok))
        for envelope in [lost, resent] {
            h.inject(envelope)
            XCTAssertEqual(h.toPrimary.last?.ack.verdict, .accepted, "a resend is acknowledged")
        }
        XCTAssertEqual(h["b"].store.value(b("k")), b("second"))
        h.settle()
        XCTAssertEqual(h["p"].store, h["b"].store)
        XCTAssertEqual(h.replies.values.map(\.count).max(), 1, "no reply is sent twice")
    }

    func testAnIdlePrimarySendsAtOnceAndABusyOneGathersBehindTheBatchInFlight() {
        let h = Harness(["p", "b"]) { $0.pipelineAfterUpdates = 3 }
        h.bootPair()
        let first = h.request("p", .put, "k1", "1", client: 1)
        XCTAssertEqual(h.toBackup.count, 1, "nothing in flight: the first put leaves at once")
        let gathered = (2...3).map { h.request("p", .put, b("k\($0)"), b("v"), client: UInt64($0)) }
        let read = h.request("p", .get, "k1", client: 9)
        XCTAssertEqual(h.toBackup.count, 1, "behind a batch in flight, the next one gathers")
        let fourth = h.request("p", .put, "k4", "v", client: 4)
        XCTAssertEqual(
            h.toBackup.compactMap { $0.batch?.updates.count }, [1, 3],
            "once it holds pipelineAfterUpdates it goes without waiting")
        let fifth = h.request("p", .put, "k5", "v", client: 5)
        XCTAssertEqual(h.toBackup.count, 2)
        h.deliverToBackup()
        h.deliverToPrimary()
        XCTAssertEqual(h.toBackup.count, 1, "still one in flight: the fifth put keeps gathering")
        h.deliverToBackup()
        h.deliverToPrimary()
        XCTAssertEqual(
            h.toBackup.compactMap { $0.batch?.updates.count }, [1], "the last acknowledgement sends what gathered")
        h.settle()
        XCTAssertEqual(h.replyOrder, [first] + gathered + [read, fourth, fifth])
        XCTAssertEqual(h.reply(read), ClientReply(status: .ok, value: b("1")))
        XCTAssertEqual(h["b"].store, h["p"].store)
    }

    /// The next batch is what the requests gathered behind the acknowledged one wait for:
    /// it leaves before that batch's replies, which the driver writes in effect order.
    func testAnAcknowledgementSendsTheGatheredBatchBeforeReleasingReplies() {
        let h = Harness(["p", "b"]) { $0.pipelineAfterUpdates = 256 }
        h.bootPair()
        let first = h.request("p", .put, "k1", "1", client: 1)
        let gathered = h.request("p", .put, "k2", "2", client: 2)
        h.deliverToBackup()
        let effects = h.deliverToPrimary()
        let send = effects.firstIndex {
            if case .sendToBackup = $0 { return true }
            return false
        }
        let reply = effects.firstIndex {
            if case .reply(let token, _) = $0 { return token == first }
            return false
        }
        XCTAssertNotNil(send, "the acknowledgement sends the gathered batch")
        XCTAssertNotNil(reply, "and releases the first put's reply")
        if let send, let reply { XCTAssertLessThan(send, reply, "the batch leaves before the reply") }
        h.settle()
        XCTAssertEqual(h.replyOrder, [first, gathered])
    }

    func testUpdatesGatheredForABackupThatIsReplacedReachTheNextOneByTransferOnly() {
        let h = Harness(["p", "b", "c"]) { $0.pipelineAfterUpdates = 256 }
        h.bootPair()
        let first = h.request("p", .put, "k1", "1", client: 1)
        let gathered = (2...3).map { h.request("p", .put, b("k\($0)"), b("v"), client: UInt64($0)) }
        XCTAssertEqual(h.toBackup.count, 1, "k2 and k3 gather behind the batch in flight")
        // b dies with batch 1 unanswered; the monitor names c in view 3.
        h.dropToBackup()
        h.view(3, "p", "c", to: ["p", "c"])
        XCTAssertTrue(h.toBackup.allSatisfy { $0.to == "c" && $0.chunk != nil }, "a transfer, no batch")
        h.settle()
        for token in [first] + gathered { XCTAssertEqual(h.reply(token), ClientReply(status: .ok)) }
        XCTAssertEqual(h["c"].store, h["p"].store, "the transfer carried all three")
        XCTAssertFalse(
            h.sentBatches.contains { $0.viewnum == 3 && !$0.updates.isEmpty },
            "nothing gathered for b was forwarded to c as well")
        // And the stream to c gathers afresh.
        let after = h.request("p", .put, "k4", "4", client: 9)
        h.settle()
        XCTAssertEqual(h.reply(after), ClientReply(status: .ok))
        XCTAssertEqual(h.sentBatches.last?.updates.map(\.key), [b("k4")])
        XCTAssertEqual(h["c"].store, h["p"].store)
    }

    func testOutOfOrderBatchLeadsToResend() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let first = h.request("p", .put, "k", "1", client: 1)
        let second = h.request("p", .put, "k", "2", client: 2)
        XCTAssertEqual(h.toBackup.count, 2)
        h.dropToBackup(at: 0)
        h.deliverToBackup()  // batch 2 first: a gap
        XCTAssertEqual(h.toPrimary.last?.ack.verdict, .outOfOrder)
        XCTAssertNil(h["b"].store.value(b("k")), "not applied across a gap")
        h.deliverToPrimary()
        XCTAssertTrue(h.toBackup.isEmpty)
        h.tick("p")
        XCTAssertEqual(h.toBackup.compactMap(\.batch?.batchSeq), [1, 2], "resends from the oldest unacknowledged")
        h.settle()
        XCTAssertEqual(h.replyOrder, [first, second])
        XCTAssertEqual(h["b"].store.value(b("k")), b("2"))
    }

    func testTransportFailureLeadsToResend() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let put = h.request("p", .put, "k", "v")
        h.failToBackup()
        XCTAssertNil(h.reply(put))
        h.tick("p")
        XCTAssertEqual(h.toBackup.count, 1)
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
    }

    func testLostAnswerLeadsToResendAndIdempotentAcceptance() {
        let h = Harness(["p", "b"]) { $0.resendAfterTicks = 2 }
        h.bootPair()
        let put = h.request("p", .putHash, "k", "x")
        h.deliverToBackup()
        h.toPrimary.removeAll()  // the answer is lost
        h.tick("p", times: 2)
        XCTAssertEqual(h.toBackup.count, 1)
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok, value: []))
        XCTAssertEqual(h["b"].store.value(b("k")), putHashValue([], b("x")))
    }

    func testReplicationAfterNewBackupUsesNewStream() {
        // A view with the same backup address again (it restarted): a full new transfer.
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "k", "v")
        h.settle()
        h.add("b")  // restarted, empty
        h.view(3, "p", "b")
        XCTAssertTrue(h.toBackup.contains { $0.chunk?.index == 0 }, "the state is transferred again")
        XCTAssertEqual(h["p"].pingViewnum, 2)
        h.settle()
        XCTAssertEqual(h["b"].store, [b("k"): b("v")])
        XCTAssertEqual(h["p"].pingViewnum, 3)
        let put = h.request("p", .put, "k2", "v2")
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertEqual(h["b"].store.value(b("k2")), b("v2"))
    }

    func testRepliesWaitingForOldBackupAreReleasedByNewBackupsTransfer() {
        let h = Harness(["p", "b", "c"])
        h.bootPair()
        let put = h.request("p", .put, "k", "v")
        h.toBackup.removeAll()  // b died with the batch
        XCTAssertNil(h.reply(put))
        h.view(3, "p", "c")
        XCTAssertNil(h.reply(put), "c must hold the update before the client hears of it")
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertEqual(h["c"].store.value(b("k")), b("v"))
    }

    func testRepliesWaitingForOldBackupAreReleasedWhenViewHasNoBackup() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let put = h.request("p", .put, "k", "v")
        h.toBackup.removeAll()
        h.view(3, "p", to: ["p"])
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertEqual(h["p"].pingViewnum, 3)
    }
}
