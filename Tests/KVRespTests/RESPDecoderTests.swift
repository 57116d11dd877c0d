import KVProtocol
import KVResp
import NIOCore
import NIOEmbedded
import XCTest

/// Commands read from a byte stream: whole, split anywhere, inline, pipelined, and every
/// way of being malformed or too large.
final class RESPDecoderTests: XCTestCase {
    private static let setCommand = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"

    func testAnArrayOfBulkStringsIsOneCommand() throws {
        XCTAssertEqual(try decodeAll(Self.setCommand), [["SET", "key", "value"]])
    }

    func testBulkStringsAreBinarySafe() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$4\r\n")
        buffer.writeBytes([0x00, 0x0D, 0x0A, 0xFF])
        buffer.writeString("\r\n")
        XCTAssertEqual(try decoder.decodeCommand(from: &buffer), [Bytes("GET".utf8), [0x00, 0x0D, 0x0A, 0xFF]])
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    func testACommandSplitAtEveryByteDecodesTheSame() throws {
        let bytes = Array((Self.setCommand + "*1\r\n$4\r\nPING\r\nECHO hi\r\n").utf8)
        var decoder = RESPDecoder()
        var buffer = ByteBuffer()
        var commands: [[String]] = []
        for byte in bytes {
            buffer.writeInteger(byte)
            while let command = try decoder.decodeCommand(from: &buffer) { commands.append(command.map(\.text)) }
        }
        XCTAssertEqual(commands, [["SET", "key", "value"], ["PING"], ["ECHO", "hi"]])
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    func testEverySplitPointOfTwoReadsDecodesTheSame() throws {
        let bytes = Array((Self.setCommand + "GET key\r\n" + Self.setCommand).utf8)
        for split in 0...bytes.count {
            var decoder = RESPDecoder()
            var buffer = ByteBuffer(bytes: bytes[..<split])
            var commands: [[String]] = []
            while let command = try decoder.decodeCommand(from: &buffer) { commands.append(command.map(\.text)) }
            buffer.writeBytes(bytes[split...])
            while let command = try decoder.decodeCommand(from: &buffer) { commands.append(command.map(\.text)) }
            XCTAssertEqual(commands.count, 3, "split at \(split)")
            XCTAssertEqual(commands[1], ["GET", "key"], "split at \(split)")
        }
    }

    func testInlineCommandsSplitOnSpacesAndSkipEmptyLines() throws {
        XCTAssertEqual(
            try decodeAll("PING\r\n\r\n  set   k \t v  \r\nget k\n\n*0\r\n*-1\r\nDBSIZE\r\n"),
            [["PING"], ["set", "k", "v"], ["get", "k"], ["DBSIZE"]])
    }

    func testAnInlineCommandWaitsForItsLineEnd() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "GET ke")
        XCTAssertNil(try decoder.decodeCommand(from: &buffer))
        buffer.writeString("y\r\n")
        XCTAssertEqual(try decoder.decodeCommand(from: &buffer)?.map(\.text), ["GET", "key"])
    }

    func testAPipelinedBatchDecodesInOrder() throws {
        var text = ""
        for index in 0..<1000 {
            let key = "key:\(index)"
            text += index % 3 == 0 ? "GET \(key)\r\n" : "*2\r\n$3\r\nGET\r\n$\(key.utf8.count)\r\n\(key)\r\n"
        }
        let commands = try decodeAll(text)
        XCTAssertEqual(commands.count, 1000)
        XCTAssertEqual(commands.map { $0[1] }, (0..<1000).map { "key:\($0)" })
    }

    func testAnOversizedBulkLengthIsRefusedBeforeItsDataArrives() {
        var decoder = RESPDecoder()
        // Only the header: the decoder must refuse now, not wait for 5 MiB.
        var buffer = ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$\(Limits.maxValueSize + 1)\r\n")
        XCTAssertThrowsError(try decoder.decodeCommand(from: &buffer)) { error in
            XCTAssertTrue("\(error)".contains("invalid bulk length"), "\(error)")
        }
    }

    func testAValueOfTheLargestSizeIsAccepted() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$\(Limits.maxValueSize)\r\n")
        buffer.writeRepeatingByte(0x61, count: Limits.maxValueSize)
        XCTAssertNil(try decoder.decodeCommand(from: &buffer), "the CR LF has not arrived")
        buffer.writeString("\r\n")
        XCTAssertEqual(try decoder.decodeCommand(from: &buffer)?.last?.count, Limits.maxValueSize)
    }

    func testBoundsOnArraysInlineLinesAndWholeCommands() {
        var bounds = RESPDecoder.Bounds()
        bounds.maxArrayLength = 8
        bounds.maxInlineLength = 32
        bounds.maxRequestBytes = 10
        expectError("*9\r\n", bounds: bounds, containing: "invalid multibulk length 9")
        expectError(String(repeating: "a", count: 32), bounds: bounds, containing: "too big inline request")
        expectError(
            "*3\r\n$3\r\nSET\r\n$4\r\nkeys\r\n$4\r\n", bounds: bounds, containing: "command larger than 10 bytes")
        // Below the bounds, nothing is refused.
        var decoder = RESPDecoder(bounds: bounds)
        var buffer = ByteBuffer(string: String(repeating: "a", count: 31))
        XCTAssertNil(try decoder.decodeCommand(from: &buffer))
    }

    func testMalformedInputIsAnError() {
        expectError("*abc\r\n", containing: "invalid multibulk length")
        expectError("*1\r\n+PING\r\n", containing: "expected '$', got '+'")
        expectError("*1\r\n$-1\r\n", containing: "invalid bulk length -1")
        expectError("*1\r\n$4\r\nPINGxx", containing: "not followed by CR LF")
        expectError("*1\r\n$4x\r\n", containing: "invalid bulk length")
        expectError("*1\r\n$\r\n", containing: "invalid bulk length")
        expectError("*1\r\n$4\rX", containing: "invalid bulk length")
        expectError("*" + String(repeating: "9", count: 30), containing: "invalid multibulk length")
        expectError("*1\r\n$" + String(repeating: "1", count: 40), containing: "invalid bulk length")
    }

    func testRandomBytesGiveCommandsOrAnErrorNeverACrash() throws {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let length = Int(generator.next() % 64)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            // Bias towards RESP-looking input so the deeper paths run too.
            if generator.next() % 2 == 0 { bytes = Array("*2\r\n$3\r\n".utf8) + bytes }
            var decoder = RESPDecoder()
            var buffer = ByteBuffer(bytes: bytes)
            do {
                while let command = try decoder.decodeCommand(from: &buffer) { XCTAssertFalse(command.isEmpty) }
            } catch {
                XCTAssertTrue(error is RESPProtocolError, "\(error)")
            }
        }
    }

    func testTheHandlerPassesCommandsOnAndReportsErrors() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPDecoder()))
        try channel.writeInbound(ByteBuffer(string: "PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n"))
        XCTAssertEqual(try channel.readInbound(as: [Bytes].self)?.map(\.text), ["PING"])
        XCTAssertEqual(try channel.readInbound(as: [Bytes].self)?.map(\.text), ["ECHO", "hi"])
        XCTAssertNil(try channel.readInbound(as: [Bytes].self))
        XCTAssertThrowsError(try channel.writeInbound(ByteBuffer(string: "$x\r\n"))) { error in
            XCTAssertTrue(error is RESPProtocolError, "\(error)")
        }
        _ = try? channel.finish()
    }

    // MARK: - Helpers

    private func decodeAll(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String]] {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: text)
        var commands: [[String]] = []
        while let command = try decoder.decodeCommand(from: &buffer) { commands.append(command.map(\.text)) }
        XCTAssertEqual(buffer.readableBytes, 0, "bytes left over", file: file, line: line)
        return commands
    }

    private func expectError(
        _ text: String, bounds: RESPDecoder.Bounds = .init(), containing expected: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        var decoder = RESPDecoder(bounds: bounds)
        var buffer = ByteBuffer(string: text)
        XCTAssertThrowsError(
            try { while try decoder.decodeCommand(from: &buffer) != nil {} }(), "\(text.debugDescription)",
            file: file, line: line
        ) { error in
            XCTAssertTrue(
                "\(error)".contains(expected), "\(text.debugDescription): \(error), want \(expected)", file: file,
                line: line)
        }
    }
}
