import ArgumentParser
import KVCtl
import XCTest

/// Bad command lines get a clear message and exit status 64, before any network I/O.
final class KVCtlArgumentTests: XCTestCase {
    private func assertUsageError(
        _ arguments: [String], mentions expected: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let run = try KVCtlProcess.run(arguments)
        XCTAssertEqual(run.status, 64, "exit status of kvctl \(arguments)", file: file, line: line)
        XCTAssertTrue(
            run.stderr.lowercased().contains(expected.lowercased()),
            "stderr of kvctl \(arguments) should mention \"\(expected)\": \(run.stderr)", file: file, line: line)
        XCTAssertEqual(run.stdout, "", file: file, line: line)
    }

    func testUnknownCommandIsAUsageError() throws {
        try assertUsageError(["frobnicate"], mentions: "frobnicate")
    }

    func testUnknownFlagIsAUsageError() throws {
        try assertUsageError(["get", "k", "--bogus"], mentions: "--bogus")
    }

    func testMissingArgumentsAreUsageErrors() throws {
        try assertUsageError(["get"], mentions: "<key>")
        try assertUsageError(["put", "k"], mentions: "<value>")
        try assertUsageError(["puthash"], mentions: "<key>")
        try assertUsageError(["delete"], mentions: "<key>")
    }

    func testExtraArgumentIsAUsageError() throws {
        try assertUsageError(["get", "a", "b"], mentions: "b")
    }

    func testBadTimeoutIsAUsageError() throws {
        try assertUsageError(["get", "k", "--timeout", "-1"], mentions: "--timeout")
        try assertUsageError(["get", "k", "--timeout", "soon"], mentions: "timeout")
        try assertUsageError(["view", "--timeout", "0"], mentions: "--timeout")
    }

    func testBadMonitorAddressIsAUsageError() throws {
        try assertUsageError(["get", "k", "--monitor", "no-port"], mentions: "HOST:PORT")
        try assertUsageError(["view", "--monitor", "host:99999"], mentions: "HOST:PORT")
        let run = try KVCtlProcess.run(["view"], environment: ["KV_MONITOR": "nonsense"])
        XCTAssertEqual(run.status, 64)
        XCTAssertTrue(run.stderr.contains("nonsense"), run.stderr)
    }

    func testHelpListsEveryCommandAndExitsZero() throws {
        let run = try KVCtlProcess.run(["--help"])
        XCTAssertEqual(run.status, 0)
        for command in ["get", "put", "puthash", "delete", "view", "servers", "status"] {
            XCTAssertTrue(run.stdout.contains(command), "help should list \(command)")
        }
    }

    func testParsingInProcessRejectsWhatTheBinaryRejects() {
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["put", "only-key"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["get", "k", "--timeout", "nan"]))
        XCTAssertNoThrow(try KVCtlCommand.parseAsRoot(["get", "k", "--monitor", "[::1]:7100", "--timeout", "1.5"]))
    }
}
