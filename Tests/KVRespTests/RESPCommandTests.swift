import KVProtocol
import KVResp
import XCTest

/// Command lines to commands: names without regard to case, arities, SET's unsupported
/// options refused rather than ignored, and the introspection commands clients send.
final class RESPCommandTests: XCTestCase {
    func testDataCommandsAndCaseInsensitiveNames() {
        XCTAssertEqual(command("get", "k"), .get(key: bytes("k")))
        XCTAssertEqual(command("GeT", "k"), .get(key: bytes("k")))
        XCTAssertEqual(command("SET", "k", "v"), .set(key: bytes("k"), value: bytes("v")))
        XCTAssertEqual(command("del", "a", "b"), .delete(keys: [bytes("a"), bytes("b")]))
        XCTAssertEqual(command("EXISTS", "a", "a"), .exists(keys: [bytes("a"), bytes("a")]))
        XCTAssertEqual(command("dbsize"), .dbsize)
        XCTAssertEqual(command("info"), .info(sections: []))
        XCTAssertEqual(command("INFO", "Replication", "keyspace"), .info(sections: ["replication", "keyspace"]))
    }

    func testWrongArgumentCounts() {
        for line in [["GET"], ["GET", "a", "b"], ["SET", "k"], ["DEL"], ["EXISTS"], ["DBSIZE", "x"], ["ECHO"]] {
            let name = line[0].lowercased()
            XCTAssertEqual(
                command(line), .answer(.error("ERR wrong number of arguments for '\(name)' command")), "\(line)")
        }
    }

    func testSetOptionsAreRefusedNotIgnored() {
        for option in ["EX", "px", "EXAT", "PXAT", "KEEPTTL", "NX", "xx", "GET"] {
            guard case .answer(.error(let message)) = command("SET", "k", "v", option, "10") else {
                return XCTFail("SET ... \(option) was accepted")
            }
            XCTAssertTrue(message.contains("not supported") && message.contains(option.uppercased()), message)
        }
        XCTAssertEqual(command("SET", "k", "v", "bogus"), .answer(.error("ERR syntax error")))
    }

    func testAnswersOnTheSpot() {
        XCTAssertEqual(command("PING"), .answer(.simpleString("PONG")))
        XCTAssertEqual(command("ping", "hello"), .answer(.bulk("hello")))
        XCTAssertEqual(command("ECHO", "x y"), .answer(.bulk("x y")))
        XCTAssertEqual(command("QUIT"), .close(.ok))
        XCTAssertEqual(command("SELECT", "0"), .answer(.ok))
        XCTAssertEqual(
            command("SELECT", "1"), .answer(.error("ERR DB index is out of range (kvservice has only database 0)")))
        XCTAssertEqual(command("CLIENT", "SETNAME", "me"), .answer(.ok))
        XCTAssertEqual(command("client", "setinfo", "lib-name", "x"), .answer(.ok))
        XCTAssertEqual(command("CLIENT", "GETNAME"), .answer(.null))
    }

    func testUnknownCommandsAreNamed() {
        XCTAssertEqual(command("FLUSHALL"), .answer(.error("ERR unknown command 'FLUSHALL'")))
        XCTAssertEqual(command("multi"), .answer(.error("ERR unknown command 'multi'")))
        guard case .answer(.error(let message)) = command([String(repeating: "x", count: 500)]) else {
            return XCTFail("no error")
        }
        XCTAssertLessThan(message.count, 120, "a long name is shortened in the error")
    }

    func testHelloSpeaksOnlyProtocolTwo() {
        XCTAssertEqual(command("HELLO"), .hello)
        XCTAssertEqual(command("HELLO", "2"), .hello)
        XCTAssertEqual(command("HELLO", "2", "SETNAME", "me"), .hello)
        XCTAssertEqual(command("HELLO", "3"), .answer(.error("NOPROTO sorry, this protocol version is not supported")))
        guard case .answer(.error(let message)) = command("HELLO", "2", "AUTH", "u", "p") else {
            return XCTFail("HELLO with AUTH was accepted")
        }
        XCTAssertTrue(message.contains("AUTH"), message)
    }

    func testCommandAndConfigAnswerWhatClientsAskAtConnect() {
        XCTAssertEqual(command("COMMAND"), .answer(.array([])))
        XCTAssertEqual(command("COMMAND", "DOCS"), .answer(.array([])))
        XCTAssertEqual(command("command", "count"), .answer(.integer(Int64(RESPCommand.supported.count))))
        XCTAssertEqual(command("COMMAND", "INFO", "get", "set"), .answer(.array([.null, .null])))
        XCTAssertEqual(command("CONFIG", "GET", "save"), .answer(.array([.bulk("save"), .bulk("")])))
        XCTAssertEqual(command("CONFIG", "GET", "appendonly"), .answer(.array([.bulk("appendonly"), .bulk("no")])))
        XCTAssertEqual(command("CONFIG", "GET", "maxmemory"), .answer(.array([])))
        guard case .answer(.error) = command("CONFIG", "SET", "save", "") else {
            return XCTFail("CONFIG SET was accepted")
        }
    }

    private func command(_ words: String...) -> RESPCommand { command(words) }

    private func command(_ words: [String]) -> RESPCommand {
        RESPCommand(arguments: words.map { Bytes($0.utf8) })
    }

    private func bytes(_ text: String) -> Bytes { Bytes(text.utf8) }
}
