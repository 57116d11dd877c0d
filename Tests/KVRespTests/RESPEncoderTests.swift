import KVProtocol
import KVResp
import NIOCore
import XCTest

/// Replies as bytes: the exact RESP2 encoding of each type, and round trips through a
/// parser of any value and through the server's own command decoder.
final class RESPEncoderTests: XCTestCase {
    func testEachTypeHasItsEncoding() {
        XCTAssertEqual(encoded(.ok), "+OK\r\n")
        XCTAssertEqual(encoded(.error("ERR no")), "-ERR no\r\n")
        XCTAssertEqual(encoded(.integer(-42)), ":-42\r\n")
        XCTAssertEqual(encoded(.bulk("hi")), "$2\r\nhi\r\n")
        XCTAssertEqual(encoded(.bulkString([])), "$0\r\n\r\n")
        XCTAssertEqual(encoded(.null), "$-1\r\n")
        XCTAssertEqual(encoded(.array([])), "*0\r\n")
        XCTAssertEqual(encoded(.array([.integer(1), .array([.bulk("a")])])), "*2\r\n:1\r\n*1\r\n$1\r\na\r\n")
    }

    func testALineBreakCannotEndAStatusOrErrorEarly() {
        XCTAssertEqual(encoded(.error("ERR a\r\n+OK")), "-ERR a  +OK\r\n")
        XCTAssertEqual(encoded(.simpleString("x\ny")), "+x y\r\n")
    }

    func testValuesRoundTripThroughTheParser() throws {
        let values: [RESPValue] = [
            .ok, .error("TRYAGAIN later"), .integer(0), .integer(.max), .integer(.min), .null, .bulkString([]),
            .bulkString([0, 13, 10, 255]), .array([]),
            .array([.bulk("server"), .bulk("redis"), .integer(2), .null, .array([.error("ERR x"), .ok])]),
        ]
        var buffer = ByteBuffer()
        for value in values { buffer.writeRESPValue(value) }
        let parser = RESPValueParser()
        for value in values { XCTAssertEqual(try parser.parse(&buffer), value) }
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    func testTheParserWaitsForAWholeValueAndConsumesNothingMeanwhile() throws {
        let bytes = Array(encoded(.array([.bulk("abc"), .integer(7)])).utf8)
        let parser = RESPValueParser()
        for length in 0..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<length])
            XCTAssertNil(try parser.parse(&buffer), "prefix of \(length)")
            XCTAssertEqual(buffer.readableBytes, length)
        }
    }

    func testEncodedCommandsDecodeToTheirArguments() throws {
        let commands: [[Bytes]] = [
            [Bytes("SET".utf8), Bytes("k".utf8), [0, 1, 2, 13, 10]], [Bytes("PING".utf8)],
            [Bytes("DEL".utf8)] + (0..<100).map { Bytes("key\($0)".utf8) },
        ]
        var buffer = ByteBuffer()
        for command in commands { buffer.writeRESPValue(.array(command.map { .bulkString($0) })) }
        var decoder = RESPDecoder()
        for command in commands { XCTAssertEqual(try decoder.decodeCommand(from: &buffer), command) }
    }

    func testNumbersAndLengthsAreWrittenInDecimalWithoutAString() {
        for number in [0, 7, -1, 10, 99, 100, -12_345, Int64.max, Int64.min] {
            XCTAssertEqual(encoded(.integer(number)), ":\(number)\r\n")
        }
        XCTAssertEqual(
            encoded(.bulkString(Bytes(repeating: 0x61, count: 1_000))),
            "$1000\r\n" + String(repeating: "a", count: 1_000) + "\r\n")
        XCTAssertEqual(encoded(.simpleString("OK")), "+OK\r\n")
        XCTAssertEqual(encoded(.simpleString("OKAY")), "+OKAY\r\n")
    }

    private func encoded(_ value: RESPValue) -> String {
        var buffer = ByteBuffer()
        RESPEncoder().encode(data: RESPReply(value, .resp2), out: &buffer)
        return String(buffer: buffer)
    }
}

/// RESP3's types, and how each falls back to RESP2.
final class RESP3EncoderTests: XCTestCase {
    func testEachTypeInBothVersions() {
        let cases: [(RESPValue, resp2: String, resp3: String)] = [
            (.null, "$-1\r\n", "_\r\n"),
            (.nullArray, "*-1\r\n", "_\r\n"),
            (.map(["a": .integer(1)]), "*2\r\n$1\r\na\r\n:1\r\n", "%1\r\n$1\r\na\r\n:1\r\n"),
            (.double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"),
            (.double(3), "$1\r\n3\r\n", ",3\r\n"),
            (.double(-.infinity), "$4\r\n-inf\r\n", ",-inf\r\n"),
            (.verbatim("# Keyspace"), "$10\r\n# Keyspace\r\n", "=14\r\ntxt:# Keyspace\r\n"),
            (.array([.null, .map([])]), "*2\r\n$-1\r\n*0\r\n", "*2\r\n_\r\n%0\r\n"),
            (.bulk("x"), "$1\r\nx\r\n", "$1\r\nx\r\n"),
        ]
        for (value, resp2, resp3) in cases {
            XCTAssertEqual(encoded(value, .resp2), resp2, "\(value)")
            XCTAssertEqual(encoded(value, .resp3), resp3, "\(value)")
        }
    }

    func testRESP3ValuesRoundTripThroughTheParser() throws {
        let values: [RESPValue] = [
            .null, .map(["server": .bulk("redis"), "modules": .array([])]), .double(2.25), .verbatim("a\r\nb"),
            .array([.null, .integer(1)]),
        ]
        var buffer = ByteBuffer()
        for value in values { buffer.writeRESPValue(value, version: .resp3) }
        let parser = RESPValueParser()
        for value in values { XCTAssertEqual(try parser.parse(&buffer), value) }
        var nullArray = ByteBuffer(string: "*-1\r\n")
        XCTAssertEqual(try parser.parse(&nullArray), .nullArray)
    }

    private func encoded(_ value: RESPValue, _ version: RESPProtocol) -> String {
        var buffer = ByteBuffer()
        RESPEncoder().encode(data: RESPReply(value, version), out: &buffer)
        return String(buffer: buffer)
    }
}
