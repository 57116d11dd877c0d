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

    private func encoded(_ value: RESPValue) -> String {
        var buffer = ByteBuffer()
        RESPEncoder().encode(data: value, out: &buffer)
        return String(buffer: buffer)
    }
}
