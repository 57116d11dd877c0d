import XCTest

@testable import KVProtocol
@testable import ServerCore

/// The backup takes forwards and chunks only from its own view's primary.
final class BackupRejectionTests: XCTestCase {
    private func pair() -> (Harness, transferID: UInt64, nextSeq: UInt64) {
        let h = Harness(["p", "b", "x"])
        h.bootFirstPrimary("p")
        h.view(2, "p", "b")
        h.settle()
        h.request("p", .put, "k", "v")
        h.settle()
        let incoming = h["b"].incoming!
        XCTAssertTrue(incoming.complete)
        return (h, incoming.transferID, incoming.nextBatchSeq)
    }

    private func forward(
        viewnum: UInt64 = 2, from: String = "p", transferID: UInt64, seq: UInt64, key: String = "k",
        value: String = "forged"
    ) -> Message {
        .forward(
            ForwardBatch(
                viewnum: viewnum, from: from, transferID: transferID, batchSeq: seq,
                updates: [
                    ForwardedUpdate(
                        change: .put(b(key), StoredValue(value: b(value), revision: 0)), revision: 0, clientID: 999,
                        seq: 1,
                        reply: ClientReply(status: .ok))
                ]))
    }

    func testSanityAcceptedFromItsPrimary() {
        let (h, transferID, seq) = pair()
        XCTAssertEqual(h.sendDirect("b", forward(transferID: transferID, seq: seq))?.verdict, .accepted)
        XCTAssertEqual(h["b"].store.value(b("k")), b("forged"))
    }

    func testBackupRejectsForwardFromServerThatIsNotItsPrimary() {
        let (h, transferID, seq) = pair()
        let ack = h.sendDirect("b", forward(from: "x", transferID: transferID, seq: seq))
        XCTAssertEqual(ack, BackupAck(verdict: .rejected, backupViewnum: 2))
        XCTAssertEqual(h["b"].store.value(b("k")), b("v"))
        XCTAssertTrue(
            h.notices["b"]!.contains(.rejectedFromPrimary(from: "x", viewnum: 2, verdict: .rejected)))
        // The real primary's next batch still goes through: the forgery consumed nothing.
        XCTAssertEqual(h.sendDirect("b", forward(transferID: transferID, seq: seq, value: "real"))?.verdict, .accepted)
        XCTAssertEqual(h["b"].store.value(b("k")), b("real"))
    }

    func testBackupRejectsForwardForOlderView() {
        let (h, transferID, seq) = pair()
        XCTAssertEqual(h.sendDirect("b", forward(viewnum: 1, transferID: transferID, seq: seq))?.verdict, .rejected)
        XCTAssertEqual(h["b"].store.value(b("k")), b("v"))
    }

    func testServerThatIsNotTheBackupRejectsForwards() {
        let (h, transferID, seq) = pair()
        // The primary itself, and an idle server that knows the view.
        XCTAssertEqual(h.sendDirect("p", forward(transferID: transferID, seq: seq))?.verdict, .rejected)
        XCTAssertEqual(h.sendDirect("x", forward(transferID: transferID, seq: seq))?.verdict, .rejected)
        XCTAssertEqual(h["p"].store.value(b("k")), b("v"))
        XCTAssertTrue(h["x"].store.isEmpty)
        // A backup dropped from the view (view 3 has another backup).
        h.view(3, "p", "x", to: ["b"])
        XCTAssertEqual(h.sendDirect("b", forward(viewnum: 3, transferID: transferID, seq: seq))?.verdict, .rejected)
        XCTAssertEqual(h["b"].store.value(b("k")), b("v"))
    }

    func testBackupAnswersUnknownViewForNewerViewAndAsksMonitor() {
        let (h, transferID, seq) = pair()
        let token = h.token()
        let effects = h.step(
            "b",
            .forward(ForwardBatch(viewnum: 3, from: "p", transferID: transferID, batchSeq: seq, updates: []), token))
        XCTAssertEqual(h.directAnswers[token]?.verdict, .unknownView)
        XCTAssertEqual(h.directAnswers[token]?.backupViewnum, 2)
        XCTAssertEqual(effects.pings, [2], "asks the monitor for the new view at once")
        let chunk = TransferChunk(
            viewnum: 4, from: "p", transferID: 9, index: 0, isLast: true, revision: 0, entries: [], duplicates: [])
        XCTAssertEqual(h.sendDirect("b", .transfer(chunk))?.verdict, .unknownView)
        XCTAssertEqual(h["b"].store.value(b("k")), b("v"), "an unknown view's chunk 0 must not wipe the store")
    }

    func testForwardBeforeTransferCompletesIsOutOfOrder() {
        let h = Harness(["p", "b"]) { $0.transferChunkBytes = 40 }
        h.bootFirstPrimary("p")
        for i in 0..<20 { h.request("p", .put, "key\(i)", "value\(i)", client: UInt64(i + 1)) }
        h.view(2, "p", "b")
        let transferID = h.toBackup[0].chunk!.transferID
        // Nothing received yet.
        XCTAssertEqual(h.sendDirect("b", forward(transferID: transferID, seq: 1))?.verdict, .outOfOrder)
        // Part of the transfer received.
        h.deliverToBackup()
        XCTAssertFalse(h["b"].incoming!.complete)
        XCTAssertEqual(h.sendDirect("b", forward(transferID: transferID, seq: 1))?.verdict, .outOfOrder)
        XCTAssertNil(h["b"].store.value(b("k")))
        h.settle()
        XCTAssertTrue(h["b"].incoming!.complete)
        // A forward of another transfer, or with a gap, is out of order too.
        XCTAssertEqual(h.sendDirect("b", forward(transferID: transferID + 1, seq: 1))?.verdict, .outOfOrder)
        XCTAssertEqual(h.sendDirect("b", forward(transferID: transferID, seq: 2))?.verdict, .outOfOrder)
        XCTAssertNil(h["b"].store.value(b("k")))
        XCTAssertEqual(h.sendDirect("b", forward(transferID: transferID, seq: 1))?.verdict, .accepted)
    }

    func testChunksFromWrongSenderOrOlderViewAreRejected() {
        let (h, _, _) = pair()
        let before = h["b"].store
        for (viewnum, from) in [(UInt64(2), "x"), (1, "p"), (0, "p")] {
            let chunk = TransferChunk(
                viewnum: viewnum, from: from, transferID: 77, index: 0, isLast: true, revision: 0, entries: [],
                duplicates: [])
            XCTAssertEqual(h.sendDirect("b", .transfer(chunk))?.verdict, .rejected, "\(viewnum) \(from)")
        }
        XCTAssertEqual(h["b"].store, before, "a rejected chunk 0 wipes nothing")
        XCTAssertTrue(h["b"].incoming!.complete)
        // A chunk with a gap in the current transfer is out of order.
        let gap = TransferChunk(
            viewnum: 2, from: "p", transferID: h["b"].incoming!.transferID + 5, index: 3, isLast: true, revision: 0,
            entries: [],
            duplicates: [])
        XCTAssertEqual(h.sendDirect("b", .transfer(gap))?.verdict, .outOfOrder)
        XCTAssertEqual(h["b"].store, before)
    }

    func testRejectedPrimaryStopsServingUntilNewerView() {
        let h = Harness(["p", "b", "c"])
        h.bootPair()
        h.request("p", .put, "k", "v")
        h.settle()
        // The monitor replaced b with c in view 3; b knows, p does not yet.
        h.view(3, "p", "c", to: ["b"])
        let put = h.request("p", .put, "k", "lost", client: 2)
        let get = h.request("p", .get, "k", client: 3)
        XCTAssertEqual(h.toBackup.count, 2)
        h.deliverToBackup()
        XCTAssertEqual(h.toPrimary.last?.ack.verdict, .rejected)
        h.deliverToPrimary()
        XCTAssertEqual(h.notices("p", where: \.isFenced).count, 1)
        XCTAssertEqual(h.reply(put), .wrongServer, "a waiting client is sent to the new primary")
        XCTAssertEqual(h.reply(get), .wrongServer)
        XCTAssertFalse(h["p"].isServing)
        XCTAssertEqual(h.reply(h.request("p", .get, "k", client: 4)), .wrongServer)
        XCTAssertEqual(h.reply(h.request("p", .put, "k", "x", client: 5)), .wrongServer)
        XCTAssertEqual(h["b"].store.value(b("k")), b("v"))
        // The same view again changes nothing.
        h.view(2, "p", "b", acked: true, to: ["p"])
        XCTAssertEqual(h.reply(h.request("p", .get, "k", client: 6)), .wrongServer)
        // View 3 arrives: p is still primary (with c) and serves again after the transfer.
        h.toBackup.removeAll()
        h.toPrimary.removeAll()
        h.view(3, "p", "c", to: ["p", "c"])
        h.settle()
        XCTAssertTrue(h["p"].isServing)
        let after = h.request("p", .get, "k", client: 7)
        h.settle()
        XCTAssertEqual(h.reply(after)?.status, .ok)
        XCTAssertEqual(h["c"].store, h["p"].store)
    }

    func testRejectedTransferChunkFencesThePrimary() {
        let h = Harness(["p", "b"])
        h.bootFirstPrimary("p")
        h.request("p", .put, "k", "v")
        // b already moved on to view 3, where it is primary (p was thought dead).
        h.view(3, "b", to: ["b"])
        h.view(2, "p", "b", to: ["p"])
        let during = h.request("p", .get, "k", client: 2)
        XCTAssertNil(h.reply(during), "deferred during the transfer")
        h.settle()
        XCTAssertEqual(h.notices("p", where: \.isFenced).count, 1)
        XCTAssertEqual(h.reply(during), .wrongServer)
        XCTAssertFalse(h["p"].isServing)
        XCTAssertEqual(h["p"].pingViewnum, 1, "view 2 is never acknowledged")
        XCTAssertEqual(h.reply(h.request("p", .get, "k", client: 3)), .wrongServer)
        XCTAssertTrue(h["b"].store.isEmpty, "b refused to take the state")
    }

    /// The partition case: the backup was promoted; the old primary, cut off from the
    /// monitor, must not answer a read from its stale state.
    func testOldPrimaryCutOffFromMonitorNeverAnswersStaleRead() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "k", "old")
        h.settle()
        h.view(3, "b", to: ["b"])
        XCTAssertTrue(h["b"].isServing)
        XCTAssertEqual(h.reply(h.request("b", .put, "k", "new", client: 2)), ClientReply(status: .ok))
        let stale = h.request("p", .get, "k", client: 3)
        XCTAssertNil(h.reply(stale))
        h.settle()
        XCTAssertEqual(h.reply(stale), .wrongServer)
        XCTAssertEqual(h.tick("p").pings, [2], "keeps pinging, hoping to learn the view")
        XCTAssertEqual(h.reply(h.request("p", .get, "k", client: 4)), .wrongServer)
    }

    func testChunkForViewBackupDoesNotKnowIsRetriedAfterItLearnsTheView() {
        let h = Harness(["p", "b"])
        h.bootFirstPrimary("p")
        h.request("p", .put, "k", "v")
        h.view(2, "p", "b", to: ["p"])
        h.deliverToBackup()
        XCTAssertEqual(h.toPrimary.last?.ack.verdict, .unknownView)
        h.settle()
        XCTAssertEqual(h["p"].pingViewnum, 1)
        h.view(2, "p", "b", to: ["b"])
        h.tick("p")  // restarts the transfer
        XCTAssertTrue(h.notices("p", where: \.isTransferRestarted).count == 1)
        h.settle()
        XCTAssertEqual(h["b"].store, [b("k"): b("v")])
        XCTAssertEqual(h["p"].pingViewnum, 2)
    }
}
