import XCTest

@testable import KVProtocol
@testable import ServerCore

/// The server's side of planned hand-overs: a graceful leave, and a switchover that
/// swaps primary and backup. Nothing an acknowledged client saw may be lost, and no
/// request may be answered by a server that is no longer primary.
final class HandOverTests: XCTestCase {
    func testLeaveAsksAtOnceAndEveryLaterPingRepeatsIt() {
        let h = Harness(["p", "b"])
        h.bootPair()
        XCTAssertEqual(h.tick("p").leavingFlags, [false])
        let effects = h.step("p", .leave)
        XCTAssertEqual(effects.pings, [2], "the request goes out at once, still acknowledging view 2")
        XCTAssertEqual(effects.leavingFlags, [true])
        XCTAssertEqual(h.tick("p").leavingFlags, [true])
        XCTAssertEqual(h.step("p", .leave).pings, [], "a second leave changes nothing")
        XCTAssertFalse(h["p"].hasLeft)
    }

    func testLeavingPrimaryServesUntilRelievedThenSendsClientsOn() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.step("p", .leave)
        let put = h.request("p", .put, "k", "v")
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok), "still primary: it serves")

        // A request caught between forward and answer when the view moves on.
        let inFlight = h.request("p", .put, "k2", "v2", client: 2)
        XCTAssertEqual(h.toBackup.count, 1)
        h.deliverToBackup()  // the backup applies it and answers ...
        h.view(3, "b", "", to: ["b"])  // ... and is promoted before the answer arrives
        h.view(3, "b", "", to: ["p"])
        XCTAssertEqual(h.reply(inFlight), .wrongServer, "the old primary sends its client on")
        XCTAssertTrue(h["p"].hasLeft)

        // The client's retry at the new primary is answered from the duplicate table:
        // applied once, and its update is there.
        let retry = h.request("b", .put, "k2", "v2", client: 2, seq: 1)
        XCTAssertEqual(h.reply(retry), ClientReply(status: .ok))
        XCTAssertEqual(h["b"].store.value(b("k")), b("v"))
        XCTAssertEqual(h["b"].store.value(b("k2")), b("v2"))
        XCTAssertTrue(h["b"].isServing)
    }

    func testLeavingBackupHasLeftOnceDroppedFromTheView() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.step("b", .leave)
        XCTAssertFalse(h["b"].hasLeft)
        h.view(3, "p", "")
        XCTAssertTrue(h["b"].hasLeft)
        XCTAssertTrue(h["p"].isServing, "the primary goes on without a backup")
    }

    func testSwitchoverPromotesTheBackupAndResynchronisesTheOldPrimary() {
        let h = Harness(["p", "b"])
        h.bootPair()
        for i in 0..<20 { h.request("p", .put, "k\(i)", "v\(i)", client: 7) }
        h.settle()
        h.view(3, "b", "p")
        XCTAssertEqual(h["b"].role, .primary)
        XCTAssertEqual(h["p"].role, .backup)
        XCTAssertFalse(h["p"].isServing)
        let put = h.request("b", .put, "after", "switchover")
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertTrue(h["b"].backupSynchronized, "the old primary took the whole state afresh")
        XCTAssertEqual(h["p"].store, h["b"].store)
        XCTAssertEqual(h["b"].store.count, 21)
        XCTAssertEqual(h.tick("b").pings, [3], "the new primary acknowledges once its backup is in sync")
        // A retry of an old request reaches the new primary and is not applied again.
        let retry = h.request("b", .put, "k0", "other", client: 7, seq: 20)
        h.settle()
        XCTAssertEqual(h.reply(retry), ClientReply(status: .ok))
        XCTAssertEqual(h["b"].store.value(b("k0")), b("v0"))
        XCTAssertEqual(h["b"].store.value(b("k19")), b("v19"))
    }

    func testOldPrimaryThatHasNotHeardOfTheSwitchoverIsFencedByItsFormerBackup() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "k", "old")
        h.settle()
        h.view(3, "b", "p", to: ["b"])  // p has not pinged since
        let newPut = h.request("b", .put, "k", "new", client: 2)
        let staleGet = h.request("p", .get, "k", client: 3)
        h.settle()
        XCTAssertEqual(h.reply(staleGet), .wrongServer, "the old primary must not answer from its copy")
        XCTAssertNil(h.reply(newPut), "the new primary waits until its new backup holds the state")
        h.view(3, "b", "p", to: ["p"])
        for _ in 0..<5 where h.reply(newPut) == nil {
            h.tick("b")
            h.settle()
        }
        XCTAssertEqual(h.reply(newPut), ClientReply(status: .ok))
        XCTAssertEqual(h["p"].store.value(b("k")), b("new"))
    }
}

extension Array where Element == ServerEffect {
    fileprivate var leavingFlags: [Bool] {
        compactMap { if case .ping(_, let leaving) = $0 { return leaving } else { return nil } }
    }
}
