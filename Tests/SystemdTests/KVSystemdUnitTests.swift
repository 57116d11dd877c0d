import DaemonSupport
import Foundation
import KVTestSupport
import XCTest

@testable import KVSystemd

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The pure parts of KVSystemd, and sd_notify/sd_watchdog_enabled against a socket and
/// environment set up inside the test process (libsystemd reads them at call time).
final class KVSystemdUnitTests: XCTestCase {
    /// Sets (or, for nil, unsets) environment variables for the rest of the test and
    /// restores them afterwards.
    private func setEnvironment(_ values: [String: String?]) {
        for (key, value) in values {
            let previous = getenv(key).map { String(cString: $0) }
            addTeardownBlock {
                if let previous { setenv(key, previous, 1) } else { unsetenv(key) }
            }
            if let value { setenv(key, value, 1) } else { unsetenv(key) }
        }
    }

    // MARK: - SystemdNotifier

    func testOneLineReplacesEveryKindOfLineBreak() {
        XCTAssertEqual(SystemdNotifier.oneLine("plain status"), "plain status")
        XCTAssertEqual(SystemdNotifier.oneLine("view 3\nprimary a"), "view 3 primary a")
        XCTAssertEqual(SystemdNotifier.oneLine("two\n\nbreaks"), "two  breaks")
        // "\r\n" is one Character in Swift: it must not survive as a line break.
        XCTAssertEqual(SystemdNotifier.oneLine("error: refused\r\nretrying"), "error: refused retrying")
        XCTAssertEqual(SystemdNotifier.oneLine("cr\ronly"), "cr only")
        for text in ["a\nb", "a\r\nb", "a\rb", "\n", "x\u{2028}y"] {
            let line = SystemdNotifier.oneLine(text)
            XCTAssertFalse(
                line.unicodeScalars.contains { $0 == "\n" || $0 == "\r" },
                "\(text.debugDescription) -> \(line.debugDescription)")
        }
    }

    func testNotifierSendsOneDatagramPerCallWithStatusOnOneLine() async throws {
        let scratch = try makeScratch()
        let listener = try makeNotifyListener(scratch)
        setEnvironment(["NOTIFY_SOCKET": listener.path])
        XCTAssertTrue(SystemdNotifier.isSupervised)
        let notifier = SystemdNotifier()
        notifier.ready(status: "line one\nline two")
        notifier.status("view 2")
        notifier.watchdog()
        notifier.stopping(status: "stopping")
        try await listener.sync()
        let messages = listener.messages
        XCTAssertEqual(
            messages.map(\.text),
            ["READY=1\nSTATUS=line one line two", "STATUS=view 2", "WATCHDOG=1", "STOPPING=1\nSTATUS=stopping"])
        XCTAssertTrue(messages.allSatisfy { $0.pid == getpid() }, "sender pid from SCM_CREDENTIALS")
    }

    func testNotifierIsANoOpWithoutNotifySocketAndReportsAMissingOne() throws {
        setEnvironment(["NOTIFY_SOCKET": nil])
        XCTAssertFalse(SystemdNotifier.isSupervised)
        XCTAssertTrue(SystemdNotifier().notify("READY=1"), "no NOTIFY_SOCKET: sd_notify returns 0")
        setEnvironment(["NOTIFY_SOCKET": "/nonexistent-kvsd/notify.sock"])
        XCTAssertFalse(SystemdNotifier().notify("READY=1"), "a missing socket is an error (-ENOENT)")
    }

    func testStatusGateOrdersStatusReadyAndStopping() async throws {
        let scratch = try makeScratch()
        let listener = try makeNotifyListener(scratch)
        setEnvironment(["NOTIFY_SOCKET": listener.path])

        // A status sent by the loop before READY=1: READY=1 then goes alone, so it can
        // neither repeat that line nor replace it with an older one.
        let early = StatusGate(notifier: SystemdNotifier())
        early.status("primary of view 1")
        early.status("primary of view 1")  // unchanged: not resent
        early.ready(status: "an older line")
        early.status("primary of view 2")
        early.stopping(status: "stopping")
        early.status("primary of view 3")  // after STOPPING=1: ignored
        early.stopping(status: "stopping")  // the same phase: nothing
        early.stopping(status: "stopping: phase two")  // a new phase: its status only
        try await listener.sync()
        XCTAssertEqual(
            listener.messages.map(\.text),
            [
                "STATUS=primary of view 1", "READY=1", "STATUS=primary of view 2", "STOPPING=1\nSTATUS=stopping",
                "STATUS=stopping: phase two",
            ])

        // Nothing sent before READY=1: it carries the status.
        let first = try await listener.sync()
        let plain = StatusGate(notifier: SystemdNotifier())
        plain.ready(status: "waiting\nfor a view")
        plain.status("waiting for a view")  // the same line once made one line
        plain.status("view 1")
        let last = try await listener.sync()
        XCTAssertEqual(
            listener.all[(first + 1)..<last].map(\.text), ["READY=1\nSTATUS=waiting for a view", "STATUS=view 1"])
    }

    // MARK: - Watchdog

    func testWatchdogDeadlineIsHalfTheInterval() {
        let settings = WatchdogSettings(intervalMicroseconds: 2_000_000)
        XCTAssertEqual(settings.deadlineMicroseconds, 1_000_000)
        XCTAssertTrue(settings.isSatisfied(byTickEvery: 100_000))
        XCTAssertTrue(settings.isSatisfied(byTickEvery: 1_000_000), "exactly half is enough")
        XCTAssertFalse(settings.isSatisfied(byTickEvery: 1_000_001))
        XCTAssertFalse(settings.isSatisfied(byTickEvery: 2_000_000))
        XCTAssertTrue(WatchdogSettings(intervalMicroseconds: 400_000).isSatisfied(byTickEvery: 200_000))
        XCTAssertFalse(WatchdogSettings(intervalMicroseconds: 400_000).isSatisfied(byTickEvery: 300_000))
    }

    func testWatchdogSettingsFollowSdWatchdogEnabled() {
        setEnvironment(["WATCHDOG_USEC": "400000", "WATCHDOG_PID": nil])
        XCTAssertEqual(
            WatchdogSettings.fromEnvironment(), WatchdogSettings(intervalMicroseconds: 400_000), "unset WATCHDOG_PID")
        setEnvironment(["WATCHDOG_PID": "\(getpid())"])
        XCTAssertEqual(WatchdogSettings.fromEnvironment()?.intervalMicroseconds, 400_000, "WATCHDOG_PID = this process")
        setEnvironment(["WATCHDOG_PID": "1"])
        XCTAssertNil(WatchdogSettings.fromEnvironment(), "WATCHDOG_PID names another process")
        setEnvironment(["WATCHDOG_PID": nil, "WATCHDOG_USEC": "0"])
        XCTAssertNil(WatchdogSettings.fromEnvironment())
        setEnvironment(["WATCHDOG_USEC": "soon"])
        XCTAssertNil(WatchdogSettings.fromEnvironment())
        setEnvironment(["WATCHDOG_USEC": nil])
        XCTAssertNil(WatchdogSettings.fromEnvironment())
    }

    func testWatchdogPingerPingsAtMostEveryQuarterInterval() async throws {
        let scratch = try makeScratch()
        let listener = try makeNotifyListener(scratch)
        setEnvironment(["NOTIFY_SOCKET": listener.path])
        let pinger = WatchdogPinger(settings: WatchdogSettings(intervalMicroseconds: 400_000))
        // Quarter interval = 100 ms. Ticks (µs) and whether each pings:
        let ticks: [(UInt64, Bool)] = [
            (1_000_000, true),  // the first tick always pings
            (1_050_000, false),
            (1_099_999, false),
            (1_100_000, true),  // exactly a quarter later
            (1_150_000, false),
            (1_350_000, true),  // a late tick pings at once
            (1_360_000, false),
            (1_460_000, true),
        ]
        var expected = 0
        for (now, pings) in ticks {
            let before = try await listener.sync()
            pinger.tick(nowMicroseconds: now)
            let after = try await listener.sync()
            let sent = listener.all[(before + 1)..<after].filter(\.isWatchdog).count
            XCTAssertEqual(sent, pings ? 1 : 0, "tick at \(now) µs")
            if pings { expected += 1 }
        }
        XCTAssertEqual(listener.messages.filter(\.isWatchdog).count, expected)
        XCTAssertEqual(listener.messages.count, expected, "nothing but WATCHDOG=1")
    }

    // MARK: - Passed sockets

    func testProtocolSocketSelection() throws {
        let name = ListenSource.protocolSocketName
        XCTAssertEqual(name, "kvservice")
        XCTAssertNil(try PassedSockets.protocolSocket(named: name, in: []), "nothing passed: use --listen")
        let unnamed = PassedSocket(fd: 3, name: "unknown")
        XCTAssertEqual(
            try PassedSockets.protocolSocket(named: name, in: [unnamed]), unnamed, "a single socket, any name")
        let metrics = PassedSocket(fd: 3, name: "metrics")
        XCTAssertEqual(try PassedSockets.protocolSocket(named: name, in: [metrics]), metrics)
        let named = PassedSocket(fd: 4, name: "kvservice")
        XCTAssertEqual(try PassedSockets.protocolSocket(named: name, in: [metrics, named]), named)
        XCTAssertEqual(try PassedSockets.protocolSocket(named: name, in: [named, metrics]), named)
        let third = PassedSocket(fd: 5, name: "admin")
        XCTAssertEqual(try PassedSockets.protocolSocket(named: name, in: [metrics, third, named]), named)
        XCTAssertThrowsError(try PassedSockets.protocolSocket(named: name, in: [metrics, third])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("FileDescriptorName=kvservice"), text)
            XCTAssertTrue(text.contains("metrics") && text.contains("admin"), text)
        }
    }

    func testNothingPassedWithoutListenFds() throws {
        setEnvironment(["LISTEN_FDS": nil, "LISTEN_PID": nil, "LISTEN_FDNAMES": nil])
        XCTAssertEqual(try PassedSockets.fromEnvironment(), [])
        // LISTEN_FDS meant for another process is ignored too.
        setEnvironment(["LISTEN_FDS": "1", "LISTEN_PID": "1"])
        XCTAssertEqual(try PassedSockets.fromEnvironment(), [])
    }

    // MARK: - Journal fields

    func testJournalFieldNamesAreSanitised() {
        XCTAssertEqual(JournalLogHandler.fieldName("kv_viewnum"), "KV_VIEWNUM")
        XCTAssertEqual(JournalLogHandler.fieldName("KV_Primary"), "KV_PRIMARY")
        XCTAssertEqual(
            JournalLogHandler.fieldName("_x"), "X", "no leading _: journald reserves those for trusted fields")
        XCTAssertEqual(JournalLogHandler.fieldName("__SYSTEMD_UNIT"), "SYSTEMD_UNIT")
        XCTAssertEqual(JournalLogHandler.fieldName("9lives"), "LIVES", "a field name cannot start with a digit")
        XCTAssertEqual(JournalLogHandler.fieldName("_9_a"), "A")
        XCTAssertEqual(JournalLogHandler.fieldName("a-b.c"), "A_B_C")
        XCTAssertEqual(JournalLogHandler.fieldName("key with spaces"), "KEY_WITH_SPACES")
        XCTAssertEqual(JournalLogHandler.fieldName("ümlaut"), "MLAUT")
        XCTAssertEqual(JournalLogHandler.fieldName("straße"), "STRA_E")
        XCTAssertEqual(JournalLogHandler.fieldName("x9"), "X9")
        XCTAssertNil(JournalLogHandler.fieldName(""))
        XCTAssertNil(JournalLogHandler.fieldName("___"))
        XCTAssertNil(JournalLogHandler.fieldName("123"))
        XCTAssertNil(JournalLogHandler.fieldName("ü"))
        XCTAssertEqual(
            JournalLogHandler.fieldName(String(repeating: "a", count: 100)), String(repeating: "A", count: 64))
        // Every name is one journald accepts.
        for key in [
            "kv_viewnum", "_x", "9lives", "a-b.c", "ümlaut", "=", "a=b", "\n", "Ω_omega",
            String(repeating: "z", count: 65),
        ] {
            guard let name = JournalLogHandler.fieldName(key) else { continue }
            XCTAssertTrue(Self.isValidJournalField(name), "\(key.debugDescription) -> \(name)")
        }
    }

    /// journald's rule (journal_field_valid): 1–64 chars of A–Z, 0–9, _; not starting
    /// with a digit; a leading _ only for trusted fields.
    static func isValidJournalField(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), let first = name.utf8.first else { return false }
        guard !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first), first != UInt8(ascii: "_") else { return false }
        return name.utf8.allSatisfy {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }

    func testJournalPrioritiesAreSyslogLevels() {
        XCTAssertEqual(JournalLogHandler.priority(.trace), 7)
        XCTAssertEqual(JournalLogHandler.priority(.debug), 7)
        XCTAssertEqual(JournalLogHandler.priority(.info), 6)
        XCTAssertEqual(JournalLogHandler.priority(.notice), 5)
        XCTAssertEqual(JournalLogHandler.priority(.warning), 4)
        XCTAssertEqual(JournalLogHandler.priority(.error), 3)
        XCTAssertEqual(JournalLogHandler.priority(.critical), 2)
    }

    func testMessageIDsAreDistinct128BitIDs() {
        let ids = Array(MessageIDs.byEvent.values)
        XCTAssertEqual(Set(ids).count, ids.count, "every event has its own id")
        for (event, id) in MessageIDs.byEvent {
            XCTAssertEqual(id.count, 32, event)
            XCTAssertTrue(id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(event): \(id) is lower-case hex")
        }
    }

    func testJournalStreamMatchesOnlyStderrItself() throws {
        setEnvironment(["JOURNAL_STREAM": nil])
        XCTAssertFalse(JournalStream.stderrIsJournal())
        var info = stat()
        XCTAssertEqual(fstat(2, &info), 0)
        setEnvironment(["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)"])
        XCTAssertTrue(JournalStream.stderrIsJournal())
        setEnvironment(["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino &+ 1)"])
        XCTAssertFalse(JournalStream.stderrIsJournal())
        setEnvironment(["JOURNAL_STREAM": "garbage"])
        XCTAssertFalse(JournalStream.stderrIsJournal())
    }
}
