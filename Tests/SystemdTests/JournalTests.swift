import Foundation
import KVSystemd
import KVTestSupport
import Logging
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The daemons' records in a real journald: a standalone systemd-journald in a private
/// mount (and pid) namespace, with a private /run and a volatile configuration bound over
/// the host's, read back with `journalctl -o json`.
final class JournalTests: XCTestCase {
    static let helperIdentifier = "kv-systemd-tests"
    static let helperTest = "SystemdTests.JournalTests/testHelperLogsOddMetadataKeys"

    /// Not a test of its own: run by `testDaemonRecordsInJournald` inside the namespace
    /// (KV_JOURNAL_HELPER=1), it logs one record with awkward metadata keys through
    /// JournalLogHandler, so the sanitised names can be read back from journald.
    func testHelperLogsOddMetadataKeys() throws {
        // Outside the namespace there is nothing to do, and nothing skipped either: a skip
        // would hide among the real ones that scripts/test reports.
        guard ProcessInfo.processInfo.environment["KV_JOURNAL_HELPER"] == "1" else { return }
        let logger = Logger(label: "kv-systemd-tests.helper") {
            JournalLogHandler(label: $0, identifier: Self.helperIdentifier)
        }
        logger.warning(
            "odd metadata keys\nsecond line",
            metadata: [
                "_x": "underscore", "9lives": "digit", "a-b.c": "punctuation", "ümlaut": "non-ascii",
                "kv_viewnum": "7", "kv_event": "view-change", "message": "not the message", "priority": "0",
                "kv_logger": "shadow", "message_id": "00000000000000000000000000000000", "___": "dropped",
            ])
    }

    private static func journaldConfiguration() -> String {
        """
        [Journal]
        Storage=volatile
        ReadKMsg=no
        RateLimitBurst=0
        RateLimitIntervalSec=0
        ForwardToSyslog=no
        ForwardToKMsg=no
        ForwardToConsole=no
        ForwardToWall=no
        """
    }

    /// The script run inside `unshare`: journald, both daemons logging to it, a view
    /// acknowledged, SIGTERM, the helper record, then every record as JSON on stdout.
    private static func script() -> String {
        let shutdownID = MessageIDs.byEvent["shutdown"]!
        return #"""
            set -u
            fail() { echo "journal-script: $*" >&2; exit 90; }
            mount --bind "$KV_RUN" /run || fail "cannot bind a private /run"
            mount --bind "$KV_CONF" /etc/systemd/journald.conf || fail "cannot bind journald.conf"
            "$KV_JOURNALD" >"$KV_SCRATCH/journald.log" 2>&1 &
            waited=0
            until [ -S /run/systemd/journal/socket ]; do
              [ $waited -ge 1000 ] && { cat "$KV_SCRATCH/journald.log" >&2; fail "journald did not start"; }
              sleep 0.01; waited=$((waited + 1))
            done
            "$KV_MONITOR_BIN" --listen 127.0.0.1:$KV_MPORT --ping-interval 50ms --log-target journal \
              >"$KV_SCRATCH/monitor.out" 2>"$KV_SCRATCH/monitor.err" &
            monitor=$!
            "$KV_SERVER_BIN" --listen 127.0.0.1:$KV_SPORT --monitor 127.0.0.1:$KV_MPORT --ping-interval 50ms \
              --log-target journal >"$KV_SCRATCH/server.out" 2>"$KV_SCRATCH/server.err" &
            server=$!
            waited=0
            until "$KV_KVCTL" view --monitor 127.0.0.1:$KV_MPORT --timeout 2 2>/dev/null | grep -q "(acknowledged)"; do
              [ $waited -ge 300 ] && fail "the view was not acknowledged"
              sleep 0.05; waited=$((waited + 1))
            done
            kill -TERM $server; wait $server; echo "server-exit=$?" >&2
            kill -TERM $monitor; wait $monitor; echo "monitor-exit=$?" >&2
            KV_JOURNAL_HELPER=1 "$KV_XCTEST" "$KV_HELPER_TEST" >"$KV_SCRATCH/helper.log" 2>&1 \
              || { cat "$KV_SCRATCH/helper.log" >&2; fail "the helper test failed"; }
            # journald stores records asynchronously: wait for the last ones.
            waited=0
            while :; do
              stops=$(journalctl -D /run/log/journal -o json --no-pager MESSAGE_ID=\#(shutdownID) | wc -l)
              helper=$(journalctl -D /run/log/journal -o json --no-pager SYSLOG_IDENTIFIER=$KV_HELPER_ID | wc -l)
              [ "$stops" -ge 2 ] && [ "$helper" -ge 1 ] && break
              [ $waited -ge 500 ] && fail "records missing: $stops shutdown records, $helper helper records"
              sleep 0.01; waited=$((waited + 1))
            done
            journalctl -D /run/log/journal -o json --no-pager
            """#
    }

    func testDaemonRecordsInJournald() async throws {
        guard getuid() == 0 else {
            throw XCTSkip(
                "a standalone journald in a private mount namespace needs root (CAP_SYS_ADMIN); CI runs as root")
        }
        guard let unshare = Binaries.tool("unshare"), let journald = Binaries.tool("systemd-journald"),
            Binaries.tool("journalctl") != nil
        else { throw XCTSkip("unshare, systemd-journald or journalctl is not installed") }
        guard FileManager.default.fileExists(atPath: "/etc/systemd/journald.conf") else {
            throw XCTSkip("/etc/systemd/journald.conf is missing: nothing to bind the test configuration over")
        }
        let scratch = try makeScratch()
        let run = scratch.path("run")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try Self.journaldConfiguration().write(toFile: scratch.path("journald.conf"), atomically: true, encoding: .utf8)
        try Self.script().write(toFile: scratch.path("journal.sh"), atomically: true, encoding: .utf8)
        let monitorPort = try Loopback.freePort()
        let serverPort = try Loopback.freePort()
        // --pid --fork --kill-child: killing unshare (teardown) kills everything inside.
        let child = try scratch.spawn(
            "journal-namespace", unshare,
            [
                "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc", "/bin/bash",
                scratch.path("journal.sh"),
            ],
            environment: [
                "KV_RUN": run, "KV_CONF": scratch.path("journald.conf"), "KV_JOURNALD": journald,
                "KV_SCRATCH": scratch.directory, "KV_MONITOR_BIN": Binaries.monitor, "KV_SERVER_BIN": Binaries.server,
                "KV_KVCTL": Binaries.kvctl, "KV_XCTEST": Binaries.testBundle, "KV_HELPER_TEST": Self.helperTest,
                "KV_HELPER_ID": Self.helperIdentifier, "KV_MPORT": "\(monitorPort)", "KV_SPORT": "\(serverPort)",
            ])
        try await child.waitForExit(within: 45)
        XCTAssertEqual(child.exitCode, 0, child.outputSummary)
        XCTAssertTrue(child.stderr.contains("server-exit=0"), child.outputSummary)
        XCTAssertTrue(child.stderr.contains("monitor-exit=0"), child.outputSummary)
        for name in ["monitor.err", "server.err"] {
            let text = (try? String(contentsOfFile: scratch.path(name), encoding: .utf8)) ?? ""
            XCTAssertEqual(text, "", "--log-target journal still wrote to stderr (\(name))")
        }

        let records: [[String: Any]] = child.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        XCTAssertGreaterThan(records.count, 0, child.outputSummary)
        func string(_ record: [String: Any], _ field: String) -> String? { record[field] as? String }
        func from(_ identifier: String) -> [[String: Any]] {
            records.filter { string($0, "SYSLOG_IDENTIFIER") == identifier }
        }
        let monitorRecords = from("kv-monitor")
        let serverRecords = from("kv-server")
        XCTAssertFalse(monitorRecords.isEmpty, "no kv-monitor records")
        XCTAssertFalse(serverRecords.isEmpty, "no kv-server records")

        // Fields every daemon record carries.
        for record in monitorRecords + serverRecords {
            let what = string(record, "MESSAGE") ?? "?"
            XCTAssertEqual(string(record, "_TRANSPORT"), "journal", "sent natively: \(what)")
            XCTAssertNotNil(string(record, "PRIORITY").flatMap(Int.init).map { (0...7).contains($0) }, what)
            XCTAssertFalse((string(record, "CODE_FILE") ?? "").isEmpty, "CODE_FILE: \(what)")
            XCTAssertNotNil(string(record, "CODE_LINE").flatMap(Int.init), "CODE_LINE: \(what)")
            XCTAssertFalse((string(record, "CODE_FUNC") ?? "").isEmpty, "CODE_FUNC: \(what)")
            XCTAssertEqual(string(record, "KV_LOGGER"), string(record, "SYSLOG_IDENTIFIER"), what)
            if let id = string(record, "MESSAGE_ID") {
                XCTAssertTrue(MessageIDs.byEvent.values.contains(id), "unknown MESSAGE_ID \(id): \(what)")
            }
            XCTAssertTrue(record.keys.allSatisfy { $0.hasPrefix("_") || KVSystemdUnitTests.isValidJournalField($0) })
        }

        let ids = MessageIDs.byEvent
        let monitorAddress = "127.0.0.1:\(serverPort)"
        // kv-monitor: startup (notice), the view change (notice) with its fields, the
        // acknowledgement, and the shutdown.
        let monitorStart = monitorRecords.first { string($0, "MESSAGE_ID") == ids["startup"] }
        XCTAssertEqual(monitorStart.flatMap { string($0, "PRIORITY") }, "5")
        XCTAssertEqual(monitorStart.flatMap { string($0, "KV_DEAD_PINGS") }, "5")
        let monitorView = monitorRecords.first { string($0, "MESSAGE_ID") == ids["view-change"] }
        XCTAssertNotNil(
            monitorView, "no view-change record from kv-monitor: \(monitorRecords.map { string($0, "MESSAGE") })")
        if let monitorView {
            XCTAssertEqual(string(monitorView, "PRIORITY"), "5")
            XCTAssertEqual(string(monitorView, "KV_VIEWNUM"), "1")
            XCTAssertEqual(string(monitorView, "KV_PRIMARY"), monitorAddress)
            XCTAssertEqual(string(monitorView, "KV_BACKUP"), "-")
            XCTAssertEqual(string(monitorView, "KV_PREVIOUS_VIEWNUM"), "0")
            XCTAssertNotNil(string(monitorView, "KV_REASON"))
            XCTAssertNil(monitorView["kv_viewnum"], "metadata keys are upper-cased")
            XCTAssertTrue(
                string(monitorView, "CODE_FILE")?.hasSuffix("Notices.swift") == true,
                "\(monitorView["CODE_FILE"] ?? "-")")
        }
        let acknowledged = monitorRecords.first { string($0, "MESSAGE_ID") == ids["view-acknowledged"] }
        XCTAssertEqual(acknowledged.flatMap { string($0, "KV_VIEWNUM") }, "1")
        XCTAssertEqual(acknowledged.flatMap { string($0, "PRIORITY") }, "6")
        XCTAssertNotNil(monitorRecords.first { string($0, "MESSAGE_ID") == ids["shutdown"] })

        // kv-server: it learned view 1 (info), became primary (notice), stopped.
        let serverView = serverRecords.first { string($0, "MESSAGE_ID") == ids["view-change"] }
        XCTAssertEqual(serverView.flatMap { string($0, "KV_VIEWNUM") }, "1")
        XCTAssertEqual(serverView.flatMap { string($0, "PRIORITY") }, "6")
        let role = serverRecords.first { string($0, "MESSAGE_ID") == ids["role-change"] }
        XCTAssertEqual(role.flatMap { string($0, "KV_ROLE") }, "primary")
        XCTAssertEqual(role.flatMap { string($0, "KV_PREVIOUS_ROLE") }, "idle")
        XCTAssertEqual(role.flatMap { string($0, "KV_VIEWNUM") }, "1")
        XCTAssertEqual(role.flatMap { string($0, "PRIORITY") }, "5")
        XCTAssertNotNil(serverRecords.first { string($0, "MESSAGE_ID") == ids["startup"] })
        XCTAssertNotNil(serverRecords.first { string($0, "MESSAGE_ID") == ids["shutdown"] })

        // The helper's odd keys, sanitised; the handler's own fields not overridden.
        let helper = from(Self.helperIdentifier).first
        XCTAssertNotNil(helper, "no helper record")
        guard let helper else { return }
        XCTAssertEqual(string(helper, "MESSAGE"), "odd metadata keys\nsecond line", "a multi-line MESSAGE survives")
        XCTAssertEqual(string(helper, "PRIORITY"), "4", "warning")
        XCTAssertEqual(string(helper, "X"), "underscore")
        XCTAssertEqual(string(helper, "LIVES"), "digit")
        XCTAssertEqual(string(helper, "A_B_C"), "punctuation")
        XCTAssertEqual(string(helper, "MLAUT"), "non-ascii")
        XCTAssertEqual(string(helper, "KV_VIEWNUM"), "7")
        XCTAssertEqual(string(helper, "KV_EVENT"), "view-change")
        XCTAssertEqual(helper["MESSAGE_ID"] as? String, ids["view-change"], "exactly one MESSAGE_ID, from kv_event")
        XCTAssertEqual(helper["KV_LOGGER"] as? String, "kv-systemd-tests.helper", "exactly one KV_LOGGER, the label")
        for raw in ["_X", "9LIVES", "_x", "a-b.c", "ümlaut", "___", "_"] {
            XCTAssertNil(helper[raw], "raw key \(raw) reached the journal")
        }
    }
}
