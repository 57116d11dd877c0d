import XCTest

@testable import KVProtocol
@testable import ServerCore

/// Starting up, acknowledging views, refusing to serve without the data, promotion.
final class ViewAndRoleTests: XCTestCase {
    func testFreshServerPingsZeroAndServesNobody() {
        let h = Harness(["s"])
        XCTAssertEqual(h.tick("s").pings, [0])
        XCTAssertEqual(h["s"].pingViewnum, 0)
        XCTAssertEqual(h["s"].role, .idle)
        XCTAssertFalse(h["s"].isServing)
        let get = h.request("s", .get, "k")
        XCTAssertEqual(h.reply(get), .wrongServer)
        let put = h.request("s", .put, "k", "v")
        XCTAssertEqual(h.reply(put), .wrongServer)
        XCTAssertTrue(h["s"].store.isEmpty)
    }

    func testFirstPrimaryServesOnlyAfterMonitorConfirmsAck() {
        let h = Harness(["p"])
        h.view(1, "p")
        XCTAssertEqual(h["p"].role, .primary)
        XCTAssertFalse(h["p"].isServing, "view 1 is not acknowledged yet")
        let put = h.request("p", .put, "k", "v")
        let get = h.request("p", .get, "k")
        XCTAssertNil(h.reply(put))
        XCTAssertNil(h.reply(get))
        XCTAssertEqual(h["p"].deferredRequests, 2)
        XCTAssertTrue(h["p"].store.isEmpty, "nothing applied before the view is confirmed")

        XCTAssertEqual(h.tick("p").pings, [1], "the primary acknowledges view 1")
        XCTAssertNil(h.reply(put), "pinging 1 is not enough: the monitor must confirm")
        // The same unacknowledged view again changes nothing.
        h.view(1, "p")
        XCTAssertNil(h.reply(put))

        h.view(1, "p", acked: true)
        XCTAssertTrue(h["p"].isServing)
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertEqual(h.reply(get), ClientReply(status: .ok, value: b("v")), "deferred requests run in order")
        XCTAssertEqual(h.replyOrder, [put, get])
        XCTAssertEqual(h.tick("p").pings, [1])
        let later = h.request("p", .get, "k")
        XCTAssertEqual(h.reply(later), ClientReply(status: .ok, value: b("v")), "served at once without backup")
    }

    func testFirstPrimaryTellsClientsToRetryWhenDeferQueueIsFull() {
        let h = Harness(["p"]) { $0.maxDeferredRequests = 1 }
        h.view(1, "p")
        let first = h.request("p", .put, "a", "1")
        let second = h.request("p", .put, "b", "2", client: 2)
        XCTAssertNil(h.reply(first))
        XCTAssertEqual(h.reply(second), .retryLater)
        h.view(1, "p", acked: true)
        XCTAssertEqual(h.reply(first), ClientReply(status: .ok))
        XCTAssertNil(h["p"].store.value(b("b")))
    }

    func testEmptyServerRefusesPrimaryOfLaterView() {
        let h = Harness(["s"])
        let effects = h.step("s", .viewFromMonitor(View(viewnum: 5, primary: "s", backup: "x", acked: false)))
        XCTAssertTrue(h.notices("s", where: \.isRefusedPrimary).count == 1)
        XCTAssertTrue(effects.sentToBackup.isEmpty, "no transfer of an empty store to the backup")
        XCTAssertFalse(h["s"].isServing)
        XCTAssertEqual(h.tick("s").pings, [0], "pings 0 so the monitor treats it as restarted")
        XCTAssertEqual(h.reply(h.request("s", .put, "k", "v")), .wrongServer)
        XCTAssertEqual(h.reply(h.request("s", .get, "k")), .wrongServer)
        // A later view naming it primary again still finds it without data.
        h.view(6, "s")
        XCTAssertFalse(h["s"].isServing)
        XCTAssertEqual(h.tick("s").pings, [0])
        XCTAssertEqual(h.notices("s", where: \.isRefusedPrimary).count, 2)
    }

    func testEmptyServerRefusesAcknowledgedView1() {
        // An acknowledged view 1 was acknowledged by an earlier run of this server, which
        // may have served data this run does not have.
        let h = Harness(["s"])
        h.view(1, "s", acked: true)
        XCTAssertEqual(h.notices("s", where: \.isRefusedPrimary).count, 1)
        XCTAssertFalse(h["s"].isServing)
        XCTAssertEqual(h.tick("s").pings, [0])
        XCTAssertEqual(h.reply(h.request("s", .get, "k")), .wrongServer)
    }

    func testRestartedFirstPrimaryRefusesOnceViewIsAcknowledged() {
        let h = Harness(["p"])
        h.bootFirstPrimary("p")
        h.request("p", .put, "k", "v")
        // Restart: a new, empty core with the same address gets the same acked view.
        h.add("p")
        XCTAssertEqual(h.tick("p").pings, [0])
        h.view(1, "p", acked: true)
        XCTAssertFalse(h["p"].isServing)
        XCTAssertEqual(h.tick("p").pings, [0])
        XCTAssertEqual(h.reply(h.request("p", .get, "k")), .wrongServer)
    }

    /// The monitor handles the primary's acknowledging ping and, in the same call, adds
    /// an idle server as backup (MonitorCore.ping runs evaluate() after recording the
    /// ack), so the reply to that ping is view 2: the primary never sees "view 1 acked".
    func testFirstPrimaryNamedInView2BeforeSeeingAckServesAfterTransfer() {
        let h = Harness(["p", "b"])
        h.view(1, "p", to: ["p"])
        let early = h.request("p", .put, "k", "v")
        XCTAssertEqual(h.tick("p").pings, [1])
        h.view(2, "p", "b", to: ["p", "b"])
        XCTAssertEqual(h["p"].role, .primary)
        XCTAssertTrue(h.notices("p", where: \.isRefusedPrimary).isEmpty, "it acknowledged view 1 itself")
        XCTAssertEqual(h["p"].pingViewnum, 1)
        h.settle()
        XCTAssertTrue(h["p"].isServing)
        XCTAssertEqual(h["p"].pingViewnum, 2)
        XCTAssertEqual(h.reply(early), ClientReply(status: .ok))
        XCTAssertEqual(h["b"].store, [b("k"): b("v")])
    }

    func testServerDroppedFromViewRefusesToBecomePrimaryLater() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "k", "v")
        h.settle()
        // p loses its role (the monitor thought it dead); b serves alone and takes writes.
        h.view(3, "b")
        h.request("b", .put, "k", "newer", client: 2)
        // A view naming p primary again: p's data is behind, it must refuse.
        h.view(4, "p", to: ["p"])
        XCTAssertEqual(h.notices("p", where: \.isRefusedPrimary).count, 1)
        XCTAssertFalse(h["p"].isServing)
        XCTAssertEqual(h.tick("p").pings, [0])
        XCTAssertEqual(h.reply(h.request("p", .get, "k")), .wrongServer)
    }

    func testNonPrimaryAnswersWrongServer() {
        let h = Harness(["p", "b", "i"])
        h.bootPair()
        h.view(2, "p", "b", to: ["i"])
        for server in ["b", "i"] {
            XCTAssertEqual(h.reply(h.request(server, .get, "k")), .wrongServer)
            XCTAssertEqual(h.reply(h.request(server, .put, "k", "v")), .wrongServer)
            XCTAssertTrue(h[server].store.isEmpty)
        }
        XCTAssertEqual(h.tick("b").pings, [2])
        XCTAssertEqual(h.tick("i").pings, [2])
    }

    func testBackupWithCompleteTransferIsPromotedWithAllData() {
        let h = Harness(["p", "b"])
        h.bootFirstPrimary("p")
        for i in 0..<20 { h.request("p", .put, "k\(i)", "v\(i)", client: UInt64(100 + i)) }
        h.view(2, "p", "b")
        h.settle()
        let hashed = h.request("p", .putHash, "h", "x", client: 7)
        h.request("p", .delete, "k0", client: 8)
        h.settle()
        XCTAssertEqual(h.reply(hashed), ClientReply(status: .ok, value: []))
        let expected = h["p"].store

        h.view(3, "b")
        XCTAssertEqual(h["b"].role, .primary)
        XCTAssertTrue(h["b"].isServing)
        XCTAssertEqual(h["b"].store, expected)
        XCTAssertEqual(h.tick("b").pings, [3], "no backup: the new view is acknowledged at once")
        for i in 1..<20 {
            XCTAssertEqual(
                h.reply(h.request("b", .get, "k\(i)", client: 50)), ClientReply(status: .ok, value: b("v\(i)")))
        }
        XCTAssertEqual(h.reply(h.request("b", .get, "k0", client: 50)), ClientReply(status: .noKey))
        XCTAssertEqual(
            h.reply(h.request("b", .get, "h", client: 50)), ClientReply(status: .ok, value: putHashValue([], b("x"))))
        XCTAssertEqual(h.reply(h.request("p", .get, "k1", client: 50)), .wrongServer, "the old primary is idle now")
    }

    func testBackupWithoutCompleteTransferRefusesPromotion() {
        let h = Harness(["p", "b"]) { $0.transferChunkBytes = 50 }
        h.bootFirstPrimary("p")
        for i in 0..<30 { h.request("p", .put, "key\(i)", "value\(i)", client: UInt64(i + 1)) }
        h.view(2, "p", "b")
        XCTAssertGreaterThanOrEqual(h.toBackup.count, 2)
        h.deliverToBackup()  // chunk 0 only
        XCTAssertFalse(h["b"].store.isEmpty)
        h.view(3, "b", to: ["b"])
        XCTAssertEqual(h.notices("b", where: \.isRefusedPrimary).count, 1)
        XCTAssertFalse(h["b"].isServing)
        XCTAssertEqual(h.tick("b").pings, [0])
        XCTAssertEqual(h.reply(h.request("b", .get, "key1")), .wrongServer)
    }

    func testBackupThatNeverReceivedTheStateRefusesPromotion() {
        let h = Harness(["p", "b"])
        h.bootFirstPrimary("p")
        h.request("p", .put, "k", "v")
        h.view(2, "p", "b")
        h.toBackup.removeAll()
        h.view(3, "b", to: ["b"])
        XCTAssertFalse(h["b"].isServing)
        XCTAssertEqual(h.tick("b").pings, [0])
    }

    func testBackupOfOneViewCannotBePromotedWithAnotherViewsState() {
        // b completed the transfer of view 2, then the monitor replaced it (view 3, with c)
        // and later named it primary: it must not serve view 2's state.
        let h = Harness(["p", "b", "c"])
        h.bootPair()
        h.view(3, "p", "c")
        h.settle()
        h.request("p", .put, "k", "in view 3")
        h.settle()
        h.view(5, "b", to: ["b"])
        XCTAssertFalse(h["b"].isServing)
        XCTAssertEqual(h.tick("b").pings, [0])
    }

    func testPromotedPrimaryTransfersToNewBackupBeforeAcknowledging() {
        let h = Harness(["p", "b", "c"]) { $0.transferChunkBytes = 64 }
        h.bootFirstPrimary("p")
        for i in 0..<40 { h.request("p", .put, "key\(i)", String(repeating: "v", count: i), client: UInt64(i + 1)) }
        h.view(2, "p", "b")
        h.settle()
        h.view(3, "b", "c")
        let during = h.request("b", .get, "key3", client: 99)
        XCTAssertNil(h.reply(during), "deferred while the transfer runs")
        XCTAssertEqual(h["b"].pingViewnum, 2, "acknowledges view 3 only once c holds the state")
        XCTAssertFalse(h["b"].backupSynchronized)
        h.settle()
        XCTAssertEqual(h["b"].pingViewnum, 3)
        XCTAssertTrue(h["b"].backupSynchronized)
        XCTAssertEqual(h["c"].store, h["b"].store)
        XCTAssertEqual(h["c"].store.count, 40)
        XCTAssertEqual(h.reply(during), ClientReply(status: .ok, value: b("vvv")))
    }
}
