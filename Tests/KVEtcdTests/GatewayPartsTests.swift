import NIOCore
import XCTest

@testable import KVEtcd

/// The client's pure parts: prefix ranges, line splitting, and how error answers sort.
final class GatewayPartsTests: XCTestCase {
    func testPrefixRangeEndIncrementsTheLastByteWithCarry() {
        XCTAssertEqual(prefixRangeEnd(Array("a/".utf8)), Array("a0".utf8))
        XCTAssertEqual(prefixRangeEnd([0x61, 0xfe]), [0x61, 0xff])
        XCTAssertEqual(prefixRangeEnd([0x61, 0xff]), [0x62])
        XCTAssertEqual(prefixRangeEnd([0x61, 0xff, 0xff]), [0x62])
        XCTAssertEqual(prefixRangeEnd([0x00]), [0x01])
        // No byte string bounds these from above: "\0" means "to the end".
        XCTAssertEqual(prefixRangeEnd([0xff, 0xff]), [0x00])
        XCTAssertEqual(prefixRangeEnd([]), [0x00])
        XCTAssertEqual(prefixRangeStart([]), [0x00])
        XCTAssertEqual(prefixRangeStart([0x61]), [0x61])
    }

    func testLineSplitterJoinsLinesAcrossPartsAndSplitsLinesInAPart() throws {
        var lines = LineSplitter()
        var seen: [String] = []
        func feed(_ text: String) throws {
            try lines.append(ByteBuffer(string: text))
            while let line = lines.nextLine() { seen.append(String(buffer: line)) }
        }
        try feed("{\"a\":")
        XCTAssertEqual(seen, [])
        try feed("1}\n{\"b\":2}\n{\"c\"")
        XCTAssertEqual(seen, ["{\"a\":1}", "{\"b\":2}"])
        try feed(":3}")
        try feed("\n")
        try feed("\n")
        XCTAssertEqual(seen, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}", ""])
        XCTAssertNil(lines.nextLine())
        XCTAssertNil(lines.remainder())

        // A last line without its "\n" is what remains when the body ends.
        try feed("{\"d\":4}\n{\"error\":")
        try feed("{}}")
        XCTAssertEqual(seen.last, "{\"d\":4}")
        XCTAssertEqual(lines.remainder().map { String(buffer: $0) }, "{\"error\":{}}")
        XCTAssertNil(lines.remainder())
    }

    func testLineSplitterRefusesALineLongerThanItsLimit() throws {
        var lines = LineSplitter(limit: 10)
        try lines.append(ByteBuffer(string: "0123456789"))
        XCTAssertNil(lines.nextLine())
        try lines.append(ByteBuffer(string: "abc"))
        XCTAssertNil(lines.nextLine())
        XCTAssertThrowsError(try lines.append(ByteBuffer(string: "d")))
    }

    func testErrorAnswersSortIntoUnavailableAndRejected() {
        func sort(_ status: Int, _ body: String) -> EtcdError {
            ErrorAnswerClassification.error(endpoint: "e", status: status, body: ByteBuffer(string: body))
        }
        let timedOut = #"{"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14}"#
        XCTAssertEqual(sort(503, timedOut), .unavailable(endpoint: "e", detail: "etcdserver: request timed out"))
        // What a lease grant on a member without quorum gets after 7 s.
        let deadline = #"{"error":"context deadline exceeded","message":"context deadline exceeded","code":2}"#
        XCTAssertEqual(sort(500, deadline), .unavailable(endpoint: "e", detail: "context deadline exceeded"))
        let badKey = #"{"error":"illegal base64 data","message":"illegal base64 data","code":3}"#
        XCTAssertEqual(sort(400, badKey), .rejected(endpoint: "e", status: 400, detail: "illegal base64 data"))
        // A streaming call refused at once (a keep-alive on a member without a leader).
        let noLeader =
            #"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#
        XCTAssertEqual(sort(503, noLeader), .unavailable(endpoint: "e", detail: "etcdserver: no leader"))
        XCTAssertEqual(sort(404, "Not Found\n"), .rejected(endpoint: "e", status: 404, detail: "Not Found"))
        XCTAssertEqual(sort(502, ""), .rejected(endpoint: "e", status: 502, detail: "(empty answer)"))
    }

    func testOnlyEtcdsLeaseNotFoundCountsAsRevoked() {
        let notFound =
            #"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#
        XCTAssertTrue(ErrorAnswerClassification.isLeaseNotFound(status: 404, body: ByteBuffer(string: notFound)))
        XCTAssertFalse(ErrorAnswerClassification.isLeaseNotFound(status: 404, body: ByteBuffer(string: "Not Found")))
        XCTAssertFalse(ErrorAnswerClassification.isLeaseNotFound(status: 400, body: ByteBuffer(string: notFound)))
    }

    func testRotationMovesOncePerFailedMember() {
        var rotation = EndpointRotation(endpoints: [.init(host: "a", port: 1), .init(host: "b", port: 1)])
        XCTAssertTrue(rotation.moveOn(from: 0))
        // A second request that failed on member 0 does not move it back there.
        XCTAssertFalse(rotation.moveOn(from: 0))
        XCTAssertEqual(rotation.preferred, 1)
        XCTAssertTrue(rotation.moveOn(from: 1))
        XCTAssertEqual(rotation.preferred, 0)
        var single = EndpointRotation(endpoints: [.init(host: "a", port: 1)])
        XCTAssertFalse(single.moveOn(from: 0))
    }
}
