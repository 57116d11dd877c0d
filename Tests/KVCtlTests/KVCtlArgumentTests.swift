import ArgumentParser
import KVTestSupport
import NIOConcurrencyHelpers
import NIOCore
import XCTest

@testable import KVCtl

/// Bad command lines get a clear message and exit status 64, before any network I/O.
final class KVCtlArgumentTests: XCTestCase {
    private var scratch: TestScratch!

    override func setUp() async throws {
        scratch = try makeScratch()
    }

    private func assertUsageError(
        _ arguments: [String], mentions expected: String, file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let run = try await scratch.kvctl(arguments)
        XCTAssertEqual(run.status, 64, "exit status of kvctl \(arguments)", file: file, line: line)
        XCTAssertTrue(
            run.stderr.lowercased().contains(expected.lowercased()),
            "stderr of kvctl \(arguments) should mention \"\(expected)\": \(run.stderr)", file: file, line: line)
        XCTAssertEqual(run.stdout, "", file: file, line: line)
    }

    func testUnknownCommandIsAUsageError() async throws {
        try await assertUsageError(["frobnicate"], mentions: "frobnicate")
    }

    func testUnknownFlagIsAUsageError() async throws {
        try await assertUsageError(["get", "k", "--bogus"], mentions: "--bogus")
    }

    func testMissingArgumentsAreUsageErrors() async throws {
        try await assertUsageError(["get"], mentions: "<key>")
        try await assertUsageError(["put", "k"], mentions: "<value>")
        try await assertUsageError(["puthash"], mentions: "<key>")
        try await assertUsageError(["delete"], mentions: "<key>")
    }

    func testExtraArgumentIsAUsageError() async throws {
        try await assertUsageError(["get", "a", "b"], mentions: "b")
    }

    func testBadTimeoutIsAUsageError() async throws {
        try await assertUsageError(["get", "k", "--timeout", "-1"], mentions: "--timeout")
        try await assertUsageError(["get", "k", "--timeout", "soon"], mentions: "timeout")
        try await assertUsageError(["view", "--timeout", "1e10"], mentions: "--timeout")
    }

    func testBadMonitorAddressIsAUsageError() async throws {
        try await assertUsageError(["get", "k", "--monitor", "no-port"], mentions: "HOST:PORT")
        try await assertUsageError(["view", "--monitor", "host:99999"], mentions: "HOST:PORT")
        let run = try await scratch.kvctl(["view"], environment: ["KV_MONITOR": "nonsense"])
        XCTAssertEqual(run.status, 64)
        XCTAssertTrue(run.stderr.contains("nonsense"), run.stderr)
    }

    func testBadMonitorListIsAUsageError() async throws {
        try await assertUsageError(
            ["view", "--monitor", "127.0.0.1:7100,nonsense"], mentions: "\"nonsense\" is not HOST:PORT")
        try await assertUsageError(["view", "--monitor", "127.0.0.1:7100,,127.0.0.1:7200"], mentions: "empty address")
        try await assertUsageError(["monitors", "--monitor", "127.0.0.1:7100,127.0.0.1:7100"], mentions: "given twice")
        let run = try await scratch.kvctl(["status"], environment: ["KV_MONITOR": "127.0.0.1:7100,bad"])
        XCTAssertEqual(run.status, 64)
        XCTAssertTrue(run.stderr.contains("KV_MONITOR") && run.stderr.contains("\"bad\""), run.stderr)
    }

    func testHelpListsEveryCommandAndExitsZero() async throws {
        let run = try await scratch.kvctl(["--help"])
        XCTAssertEqual(run.status, 0)
        for command in ["get", "put", "puthash", "delete", "view", "servers", "status", "monitors"] {
            XCTAssertTrue(run.stdout.contains(command), "help should list \(command)")
        }
    }

    func testParsingInProcessRejectsWhatTheBinaryRejects() {
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["put", "only-key"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["get", "k", "--timeout", "nan"]))
        XCTAssertNoThrow(try KVCtlCommand.parseAsRoot(["get", "k", "--monitor", "[::1]:7100", "--timeout", "1.5"]))
        XCTAssertNoThrow(
            try KVCtlCommand.parseAsRoot(["monitors", "--monitor", "[::1]:7100,127.0.0.1:7200", "--json"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["monitors", "--monitor", "127.0.0.1:7100,"]))
    }

    /// Issue 17: a finite default, so that a command against a service that is down ends.
    func testTheTimeoutIsThirtySecondsByDefaultAndZeroMeansForEver() throws {
        let byDefault = try ClientOptions.parse([])
        let deadline = try XCTUnwrap(byDefault.deadline)
        let left = deadline - NIODeadline.now()
        XCTAssertTrue(left > .seconds(29) && left <= .seconds(30), "\(left)")
        XCTAssertNil(byDefault.explicitDeadline, "watch runs until interrupted unless told")
        XCTAssertNil(byDefault.givenTimeout)
        let forEver = try ClientOptions.parse(["--timeout", "0"])
        XCTAssertNil(forEver.deadline)
        XCTAssertNil(forEver.explicitDeadline)
        XCTAssertNil(forEver.givenTimeout, "commands with a bound of their own keep it")
        let given = try ClientOptions.parse(["--timeout", "2.5"])
        XCTAssertEqual(given.givenTimeout, 2.5)
        XCTAssertNotNil(given.explicitDeadline)
    }

    func testTheRetryReportSaysANewReasonAtOnceAndRepeatsOnlyAfterAWhile() {
        let clock = NIOLockedValueBox(NIODeadline.uptimeNanoseconds(1_000_000_000))
        let printed = NIOLockedValueBox<[String]>([])
        let reporter = RetryReporter(now: { clock.withLockedValue { $0 } }) { line in
            printed.withLockedValue { $0.append(line) }
        }
        reporter.report("monitor 127.0.0.1:7100: connection refused")
        reporter.report("monitor 127.0.0.1:7100: connection refused")
        clock.withLockedValue { $0 = $0 + .seconds(4) }
        reporter.report("monitor 127.0.0.1:7100: connection refused")
        reporter.report("monitor 127.0.0.1:7200: timed out")
        clock.withLockedValue { $0 = $0 + .seconds(5) }
        reporter.report("monitor 127.0.0.1:7200: timed out")
        XCTAssertEqual(
            printed.withLockedValue { $0 },
            [
                "monitor 127.0.0.1:7100: connection refused, retrying", "monitor 127.0.0.1:7200: timed out, retrying",
                "monitor 127.0.0.1:7200: timed out, retrying",
            ])
    }

    /// On a terminal (here `script`'s pseudo-terminal), kvctl says what it waits for, and
    /// gives up at --timeout with exit status 2.
    func testOnATerminalKvctlSaysWhatItIsWaitingFor() async throws {
        let port = try Loopback.freePort()
        let command = "\(Binaries.kvctl) get k --monitor 127.0.0.1:\(port) --timeout 1"
        let run = try await scratch.run("script", "/usr/bin/script", ["-qec", command, "/dev/null"])
        XCTAssertEqual(run.status, 2, "\(run.stdout)\(run.stderr)")
        let shown = run.stdout + run.stderr
        XCTAssertTrue(
            shown.contains("kvctl: monitor 127.0.0.1:\(port): ") && shown.contains("refused, retrying"), shown)
        XCTAssertEqual(shown.components(separatedBy: "retrying").count - 1, 1, "the same reason repeated: \(shown)")
    }
}
