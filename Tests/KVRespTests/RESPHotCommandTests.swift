import KVProtocol
import NIOCore
import XCTest

@testable import KVResp

/// GET, SET without options and DEL of one key are read straight off the received bytes
/// (`RESPDecoder.hotCommand`); whatever that path takes must read exactly as the general
/// path (arguments, then the command table) reads it, and whatever it leaves must reach
/// the general path untouched, errors included.
final class RESPHotCommandTests: XCTestCase {
    private let context = CommandContext.live(cursors: ScanCursorTable())

    private func array(_ arguments: [String]) -> String {
        "*\(arguments.count)\r\n" + arguments.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }

    /// The plain command each path reads from `text`, and the bytes each consumed.
    private func bothPaths(_ text: String, bounds: RESPDecoder.Bounds = .init()) throws -> (
        hot: (PlainCommand, Int)?, general: (PlainCommand?, Int)
    ) {
        var buffer = ByteBuffer(string: text)
        let hot = RESPDecoder(bounds: bounds).hotCommand(from: &buffer).map { command in
            guard case .data(.plain(let plain)) = command else { preconditionFailure("\(command)") }
            return (plain, text.utf8.count - buffer.readableBytes)
        }
        buffer = ByteBuffer(string: text)
        var general = RESPDecoder(bounds: bounds)
        let arguments = try XCTUnwrap(try general.decodeCommand(from: &buffer))
        var plain: PlainCommand?
        if case .data(.plain(let command)) = RESPCommand(arguments: arguments, context: context) { plain = command }
        return (hot, (plain, text.utf8.count - buffer.readableBytes))
    }

    func testTheHotCommandsReadAsTheGeneralPathReadsThem() throws {
        let cases: [[String]] = [
            ["GET", "k"], ["get", "key:000123"], ["gEt", ""], ["SET", "k", "v"], ["set", "", ""],
            ["Set", "a key", String(repeating: "x", count: 3000)], ["DEL", "k"], ["del", "\r\n*1\r\n"],
        ]
        for arguments in cases {
            let text = array(arguments) + "PING\r\n"  // followed by more input, left alone
            let (hot, general) = try bothPaths(text)
            let (hotCommand, hotSize) = try XCTUnwrap(hot, "\(arguments)")
            XCTAssertEqual(hotCommand, general.0, "\(arguments)")
            XCTAssertEqual(hotSize, general.1, "\(arguments)")
        }
        // Lengths with leading zeros are lengths all the same.
        let padded = "*02\r\n$003\r\nGET\r\n$01\r\nk\r\n"
        let (hot, general) = try bothPaths(padded)
        XCTAssertEqual(hot?.0, general.0)
        XCTAssertEqual(hot?.1, general.1)
    }

    func testEverythingElseIsLeftToTheGeneralPath() throws {
        let others = [
            array(["GET", "k", "extra"]), array(["SET", "k"]), array(["SET", "k", "v", "NX"]),
            array(["DEL", "a", "b"]),
            array(["GETX", "k"]), array(["G@T", "k"]), array(["INCR", "k"]), array(["PING"]), "GET k\r\n",
            "*2\r\n$3\r\nGET\r\n$5\r\nab",  // not all there yet
            "*2\r\n$3\r\nGET\r\n$1\r\nkX\n",  // no CR LF after the key
            "*2\r\n$3\r\nGET\r\n$-1\r\n",
        ]
        for text in others {
            var buffer = ByteBuffer(string: text)
            XCTAssertNil(RESPDecoder().hotCommand(from: &buffer), text)
            XCTAssertEqual(buffer.readableBytes, text.utf8.count, "nothing consumed: \(text)")
        }
    }

    func testACommandOverTheBoundsIsLeftToTheGeneralPathWhichRefusesIt() throws {
        var bounds = RESPDecoder.Bounds()
        bounds.maxBulkLength = 4
        var buffer = ByteBuffer(string: array(["SET", "k", "12345"]))
        var decoder = RESPDecoder(bounds: bounds)
        XCTAssertNil(decoder.hotCommand(from: &buffer))
        XCTAssertThrowsError(try decoder.nextCommand(from: &buffer, context: context))
    }
}
