import XCTest

@testable import KVProtocol
@testable import ServerCore

final class DataOperationTests: XCTestCase {
    func testDeleteOfMissingKeyAnswersNoKey() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let delete = h.request("p", .delete, "missing")
        h.settle()
        XCTAssertEqual(h.reply(delete), ClientReply(status: .noKey))
        XCTAssertTrue(h["p"].store.isEmpty)
        XCTAssertTrue(h["b"].store.isEmpty)
    }

    func testDeleteRemovesPresentKeyOnBothSides() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "k", "v", client: 1)
        h.request("p", .put, "keep", "v", client: 2)
        h.settle()
        XCTAssertEqual(h["b"].store.value(b("k")), b("v"))
        let delete = h.request("p", .delete, "k", client: 3)
        XCTAssertNil(h["p"].store.value(b("k")), "applied locally at once")
        XCTAssertNil(h.reply(delete), "but confirmed only by the backup")
        h.settle()
        XCTAssertEqual(h.reply(delete), ClientReply(status: .ok))
        XCTAssertEqual(h["p"].store.values, [b("keep"): b("v")])
        XCTAssertEqual(h["b"].store, h["p"].store)
        XCTAssertEqual(h["p"].store.revision, 3, "each update is a revision, the delete included")
        let get = h.request("p", .get, "k", client: 4)
        h.settle()
        XCTAssertEqual(h.reply(get), ClientReply(status: .noKey))
        // A second delete finds nothing.
        let again = h.request("p", .delete, "k", client: 5)
        h.settle()
        XCTAssertEqual(h.reply(again), ClientReply(status: .noKey))
    }

    func testPutHashOnMissingKeyCountsAsEmpty() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let first = h.request("p", .putHash, "k", "abc")
        h.settle()
        XCTAssertEqual(h.reply(first), ClientReply(status: .ok, value: []))
        XCTAssertEqual(h["b"].store.value(b("k")), b(String(fnv1a32(b("abc")))))
    }

    func testPutHashChainLikeTheCourseTest() {
        let h = Harness(["p", "b"])
        h.bootPair()
        var previous = ""
        for i in 0..<30 {
            let argument = String(i)
            let token = h.request("p", .putHash, "a", argument, client: 1)
            h.settle()
            XCTAssertEqual(h.reply(token), ClientReply(status: .ok, value: b(previous)))
            previous = String(fnv1a32(b(previous + argument)))
        }
        XCTAssertEqual(h["b"].store.value(b("a")), b(previous))
    }

    func testEmptyAndBinaryKeysAndValues() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, [], [0, 0, 255], client: 1)
        h.request("p", .put, [0, 1, 2, 255], [], client: 2)
        h.settle()
        let getEmpty = h.request("p", .get, [], [], client: 3)
        let getBinary = h.request("p", .get, [0, 1, 2, 255], [], client: 3)
        h.settle()
        XCTAssertEqual(h.reply(getEmpty), ClientReply(status: .ok, value: [0, 0, 255]))
        XCTAssertEqual(h.reply(getBinary), ClientReply(status: .ok, value: []), "an empty value is not a missing key")
        XCTAssertEqual(h["b"].store, h["p"].store)
    }

    func testOversizedKeyIsInvalid() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let key = Bytes(repeating: 7, count: Limits.maxKeySize + 1)
        let token = h.request("p", .put, key, b("v"))
        XCTAssertEqual(h.reply(token)?.status, .invalid)
        XCTAssertFalse(h.reply(token)?.value.isEmpty ?? true, "the reason is given")
        XCTAssertTrue(h.toBackup.isEmpty, "nothing forwarded")
        XCTAssertTrue(h["p"].store.isEmpty)
        XCTAssertEqual(h.reply(h.request("p", .get, key, [], client: 2))?.status, .invalid)
    }

    func testOversizedValueIsInvalid() {
        let h = Harness(["p", "b"])
        h.bootPair()
        let token = h.request("p", .put, b("k"), Bytes(repeating: 1, count: Limits.maxValueSize + 1))
        XCTAssertEqual(h.reply(token)?.status, .invalid)
        XCTAssertTrue(h.toBackup.isEmpty)
        XCTAssertTrue(h["p"].store.isEmpty)
        XCTAssertNil(h["p"].duplicates.lookup(1), "an invalid request is not recorded")
        // Exactly at the limits is fine.
        let edge = h.request(
            "p", .put, Bytes(repeating: 1, count: Limits.maxKeySize), Bytes(repeating: 2, count: Limits.maxValueSize),
            client: 2)
        h.settle()
        XCTAssertEqual(h.reply(edge), ClientReply(status: .ok))
    }
}
