import Foundation
import KVTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The daemons' sd_notify conversation, seen from a stand-in service manager: a
/// datagram socket passed as NOTIFY_SOCKET, with WATCHDOG_USEC (and WATCHDOG_PID unset,
/// which sd_watchdog_enabled accepts: the child's pid is unknown before it is spawned).
final class NotifyTests: XCTestCase {
    /// WatchdogSec= for these tests: pings at most every 100 ms (interval/4), at least
    /// every 200 ms (interval/2). Daemons tick every 50 ms, so pings come every 100–150 ms.
    static let watchdogUsec = 400_000
    static let tick = "50ms"

    private func startMonitor(
        _ scratch: TestScratch, listener: NotifyListener?, port: Int, watchdog: Bool = true,
        extraEnvironment: [String: String] = [:]
    ) throws -> Child {
        var environment = extraEnvironment
        if let listener { environment["NOTIFY_SOCKET"] = listener.path }
        if watchdog { environment["WATCHDOG_USEC"] = "\(Self.watchdogUsec)" }
        return try scratch.spawn(
            "kv-monitor", Binaries.monitor,
            ["--listen", "127.0.0.1:\(port)", "--ping-interval", Self.tick, "--log-target", "stderr"],
            environment: environment)
    }

    private func startServer(
        _ scratch: TestScratch, listener: NotifyListener?, port: Int, monitorPort: Int, watchdog: Bool = true
    ) throws -> Child {
        var environment: [String: String] = [:]
        if let listener { environment["NOTIFY_SOCKET"] = listener.path }
        if watchdog { environment["WATCHDOG_USEC"] = "\(Self.watchdogUsec)" }
        return try scratch.spawn(
            "kv-server", Binaries.server,
            [
                "--listen", "127.0.0.1:\(port)", "--monitor", "127.0.0.1:\(monitorPort)", "--ping-interval", Self.tick,
                "--log-target", "stderr",
            ],
            environment: environment)
    }

    /// Records, at the moment READY=1 is read, whether `port` accepts a connection and
    /// what `extra` says then.
    private final class ReadyProbe: @unchecked Sendable {
        private let lock = NSLock()
        private var result: (accepted: Bool, extra: Int)?
        func record(_ accepted: Bool, _ extra: Int) {
            lock.withLock { if result == nil { result = (accepted, extra) } }
        }
        var value: (accepted: Bool, extra: Int)? { lock.withLock { result } }
    }

    // MARK: - READY=1

    func testMonitorIsReadyOnlyOnceItsPortAccepts() async throws {
        let scratch = try makeScratch()
        let listener = try makeNotifyListener(scratch)
        let port = try Loopback.freePort()
        let probe = ReadyProbe()
        listener.onMessage = { message in
            if message.isReady { probe.record(Loopback.accepts(port: port), 0) }
        }
        let monitor = try startMonitor(scratch, listener: listener, port: port)
        let ready = try await listener.first("READY=1", within: 15, detail: { monitor.outputSummary }) { $0.isReady }
        XCTAssertEqual(probe.value?.accepted, true, "the port did not accept when READY=1 arrived")
        XCTAssertEqual(ready.pid, monitor.pid, "READY=1 comes from the daemon itself")
        XCTAssertEqual(listener.statusAtReady, "waiting for the first server; 0 live servers")
        XCTAssertEqual(listener.messages.filter(\.isReady).count, 1, "READY=1 once")
    }

    func testServerIsReadyAfterListeningAndItsFirstPingAttempt() async throws {
        let scratch = try makeScratch()
        // 1. A monitor that accepts but never answers: the server's first ping (its hello)
        //    reaches it and times out (1 s); READY=1 only after that attempt.
        let silent = try SilentListener()
        addTeardownBlock { silent.stop() }
        let listener = try makeNotifyListener(scratch, "silent")
        let port = try Loopback.freePort()
        let probe = ReadyProbe()
        listener.onMessage = { message in
            if message.isReady { probe.record(Loopback.accepts(port: port), silent.bytesReceived) }
        }
        let server = try startServer(scratch, listener: listener, port: port, monitorPort: silent.port)
        let ready = try await listener.first(
            "READY=1 with a silent monitor", within: 15, detail: { server.outputSummary }
        ) {
            $0.isReady
        }
        XCTAssertEqual(probe.value?.accepted, true, "the port did not accept when READY=1 arrived")
        XCTAssertGreaterThan(probe.value?.extra ?? 0, 0, "READY=1 before the first ping reached the monitor")
        XCTAssertEqual(listener.statusAtReady, "waiting for the monitor's first view")
        XCTAssertEqual(ready.pid, server.pid)

        // 2. No monitor at all (refused): ready all the same, promptly.
        let refusedListener = try makeNotifyListener(scratch, "refused")
        let refusedPort = try Loopback.freePort()
        let refusedProbe = ReadyProbe()
        refusedListener.onMessage = { message in
            if message.isReady { refusedProbe.record(Loopback.accepts(port: refusedPort), 0) }
        }
        let lonely = try startServer(
            scratch, listener: refusedListener, port: refusedPort, monitorPort: try Loopback.freePort())
        _ = try await refusedListener.first(
            "READY=1 without a monitor", within: 15, detail: { lonely.outputSummary }
        ) { $0.isReady }
        XCTAssertEqual(refusedProbe.value?.accepted, true)

        // 3. A real monitor: READY=1 after the first ping's answer, so it already names view 1.
        let monitorPort = try Loopback.freePort()
        let monitor = try startMonitor(scratch, listener: nil, port: monitorPort, watchdog: false)
        try await waitUntil("kv-monitor accepts", timeout: 15, detail: { monitor.outputSummary }) {
            Loopback.accepts(port: monitorPort)
        }
        let realListener = try makeNotifyListener(scratch, "real")
        let realPort = try Loopback.freePort()
        let realProbe = ReadyProbe()
        realListener.onMessage = { message in
            if message.isReady { realProbe.record(Loopback.accepts(port: realPort), 0) }
        }
        let served = try startServer(scratch, listener: realListener, port: realPort, monitorPort: monitorPort)
        _ = try await realListener.first("READY=1", within: 15, detail: { served.outputSummary }) { $0.isReady }
        XCTAssertEqual(realProbe.value?.accepted, true)
        XCTAssertEqual(
            realListener.statusAtReady?.hasPrefix("primary of view 1"), true, "\(realListener.messages.map(\.text))")
    }

    // MARK: - STATUS=

    func testStatusFollowsTheView() async throws {
        let scratch = try makeScratch()
        let monitorListener = try makeNotifyListener(scratch, "monitor")
        let monitorPort = try Loopback.freePort()
        let monitor = try startMonitor(scratch, listener: monitorListener, port: monitorPort)
        _ = try await monitorListener.first("READY=1", within: 15, detail: { monitor.outputSummary }) { $0.isReady }
        XCTAssertEqual(monitorListener.statusAtReady, "waiting for the first server; 0 live servers")

        let firstListener = try makeNotifyListener(scratch, "server1")
        let firstPort = try Loopback.freePort()
        let first = try startServer(scratch, listener: firstListener, port: firstPort, monitorPort: monitorPort)
        let firstAddress = "127.0.0.1:\(firstPort)"

        // The monitor's STATUS moves from "waiting" to view 1 with this primary, then to
        // acknowledged.
        _ = try await monitorListener.first(
            "the monitor's STATUS of view 1", within: 15, detail: { monitor.outputSummary }
        ) {
            $0.status?.hasPrefix("view 1: primary \(firstAddress), backup -") == true
        }
        _ = try await monitorListener.first("the monitor's STATUS of view 1 acknowledged", within: 15) {
            $0.status == "view 1: primary \(firstAddress), backup -, acknowledged; 1 live servers"
        }
        // The server's STATUS names its role and the view.
        _ = try await firstListener.first("the server's STATUS as primary", within: 15, detail: { first.outputSummary })
        {
            $0.status?.hasPrefix("primary of view 1 (no backup)") == true
        }

        // A second server becomes backup: view 2 everywhere.
        let secondListener = try makeNotifyListener(scratch, "server2")
        let secondPort = try Loopback.freePort()
        let second = try startServer(scratch, listener: secondListener, port: secondPort, monitorPort: monitorPort)
        let secondAddress = "127.0.0.1:\(secondPort)"
        _ = try await monitorListener.first("the monitor's STATUS of view 2", within: 15) {
            $0.status == "view 2: primary \(firstAddress), backup \(secondAddress), acknowledged; 2 live servers"
        }
        _ = try await secondListener.first("the backup's STATUS", within: 15, detail: { second.outputSummary }) {
            $0.status?.hasPrefix("backup of view 2 (primary \(firstAddress))") == true
        }
        _ = try await firstListener.first("the primary's STATUS with its backup", within: 15) {
            $0.status?.hasPrefix("primary of view 2 (backup \(secondAddress) synchronised)") == true
        }

        // STATUS= is sent on changes, not on every tick: a few lines, not one per tick.
        let serverStatuses = firstListener.messages.filter { $0.status != nil && !$0.isReady }
        XCTAssertLessThan(serverStatuses.count, 10, "\(serverStatuses.map(\.text))")
        for listener in [monitorListener, firstListener, secondListener] {
            let statuses = listener.messages.compactMap(\.status)
            for (previous, next) in zip(statuses, statuses.dropFirst()) where !next.isEmpty {
                XCTAssertNotEqual(previous, next, "the same STATUS sent twice in a row")
            }
        }
    }

    // MARK: - WATCHDOG=1

    /// WATCHDOG=1 times (seconds) received between two syncs `window` seconds apart.
    private func watchdogTimes(_ listener: NotifyListener, over window: Double) async throws -> [Double] {
        let start = try await listener.sync()
        try await pause(window)  // the window itself is what is measured
        let end = try await listener.sync()
        return listener.all[(start + 1)..<end].filter(\.isWatchdog).map(\.time)
    }

    private func assertWatchdogRate(_ times: [Double], window: Double, who: String) {
        let quarter = Double(Self.watchdogUsec) / 4 / 1e6  // 0.1 s: the throttle
        let half = Double(Self.watchdogUsec) / 2 / 1e6  // 0.2 s: the deadline
        // Expected: a ping every 100–150 ms (ticks every 50 ms, throttled to 100 ms).
        // Generous bounds for a loaded 2-core machine: at least one per deadline on
        // average with slack, never much more than one per quarter interval.
        let atLeast = Int((window / half * 0.75).rounded(.down))
        let atMost = Int((window / quarter * 1.5).rounded(.up))
        XCTAssertGreaterThanOrEqual(times.count, atLeast, "\(who): \(times.count) WATCHDOG=1 in \(window) s")
        XCTAssertLessThanOrEqual(times.count, atMost, "\(who): \(times.count) WATCHDOG=1 in \(window) s")
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }.sorted()
        if !gaps.isEmpty {
            let median = gaps[gaps.count / 2]
            // Bursty reads under load shorten observed gaps; the count bound above is what
            // catches a missing throttle.
            XCTAssertGreaterThanOrEqual(median, quarter * 0.5, "\(who): median gap \(median) s, gaps \(gaps)")
            // A starved reader stretches the gaps it observes: the count bounds above carry
            // the rate; this only catches a tick far slower than the deadline.
            XCTAssertLessThanOrEqual(median, half * 2, "\(who): median gap \(median) s, gaps \(gaps)")
        }
    }

    func testWatchdogRateAndSilenceWhileStopped() async throws {
        let scratch = try makeScratch()
        let monitorListener = try makeNotifyListener(scratch, "monitor")
        let monitorPort = try Loopback.freePort()
        let monitor = try startMonitor(scratch, listener: monitorListener, port: monitorPort)
        let serverListener = try makeNotifyListener(scratch, "server")
        let server = try startServer(
            scratch, listener: serverListener, port: try Loopback.freePort(), monitorPort: monitorPort)
        _ = try await monitorListener.first("READY=1", within: 15, detail: { monitor.outputSummary }) { $0.isReady }
        _ = try await serverListener.first("READY=1", within: 15, detail: { server.outputSummary }) { $0.isReady }

        let window = 2.0
        let monitorTimes = try await watchdogTimes(monitorListener, over: window)
        assertWatchdogRate(monitorTimes, window: window, who: "kv-monitor")
        let serverTimes = try await watchdogTimes(serverListener, over: window)
        assertWatchdogRate(serverTimes, window: window, who: "kv-server")
        XCTAssertTrue(monitorListener.messages.filter(\.isWatchdog).allSatisfy { $0.pid == monitor.pid })

        // SIGSTOP: once the process is stopped (and every datagram it sent before is
        // read), no WATCHDOG=1 for a window of many ping periods.
        for (child, listener) in [(server, serverListener), (monitor, monitorListener)] {
            child.signal(SIGSTOP)
            try await waitUntil("\(child.name) stops", timeout: 5) { child.procState == "T" }
            let silent = try await watchdogTimes(listener, over: 0.6)  // 6 quarter intervals, 3 deadlines
            XCTAssertEqual(silent.count, 0, "\(child.name) pinged while stopped: \(silent)")
            // SIGCONT: the pings resume.
            let resumeFrom = try await listener.sync()
            child.signal(SIGCONT)
            try await waitUntil("\(child.name) resumes pinging after SIGCONT", timeout: 5) {
                listener.all[(resumeFrom + 1)...].contains(where: \.isWatchdog)
            }
            XCTAssertTrue(child.isRunning)
        }
        // And still at the configured rate afterwards.
        let resumed = try await watchdogTimes(serverListener, over: 1.0)
        assertWatchdogRate(resumed, window: 1.0, who: "kv-server after SIGCONT")
    }

    func testWatchdogPidNamingAnotherProcessDisablesPings() async throws {
        let scratch = try makeScratch()
        let listener = try makeNotifyListener(scratch)
        let port = try Loopback.freePort()
        let monitor = try startMonitor(
            scratch, listener: listener, port: port, extraEnvironment: ["WATCHDOG_PID": "\(getpid())"])
        _ = try await listener.first("READY=1", within: 15, detail: { monitor.outputSummary }) { $0.isReady }
        // Long enough for several pings at the configured rate (every 100–150 ms).
        let times = try await watchdogTimes(listener, over: 0.8)
        XCTAssertEqual(times.count, 0, "WATCHDOG=1 although WATCHDOG_PID names the test process")
        XCTAssertEqual(listener.messages.filter(\.isWatchdog).count, 0)
        XCTAssertTrue(
            monitor.stderr.contains("kv_watchdog_ms=-"),
            "startup record should say no watchdog\n\(monitor.outputSummary)")
    }

    func testATickSlowerThanTheWatchdogIsReported() async throws {
        let scratch = try makeScratch()
        let listener = try makeNotifyListener(scratch)
        let port = try Loopback.freePort()
        // WatchdogSec=400ms needs a ping every 200 ms; a 300 ms tick cannot keep up.
        let monitor = try scratch.spawn(
            "kv-monitor", Binaries.monitor,
            ["--listen", "127.0.0.1:\(port)", "--ping-interval", "300ms", "--log-target", "stderr"],
            environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "\(Self.watchdogUsec)"])
        _ = try await listener.first("READY=1", within: 15, detail: { monitor.outputSummary }) { $0.isReady }
        try await waitUntil("kv-monitor reports its slow tick", timeout: 5, detail: { monitor.outputSummary }) {
            monitor.stderr.contains("slower than half the watchdog interval")
        }
    }

    // MARK: - STOPPING=1

    func testSigtermSendsStoppingAndExitsCleanly() async throws {
        let scratch = try makeScratch()
        let monitorListener = try makeNotifyListener(scratch, "monitor")
        let monitorPort = try Loopback.freePort()
        let monitor = try startMonitor(scratch, listener: monitorListener, port: monitorPort)
        let serverListener = try makeNotifyListener(scratch, "server")
        let server = try startServer(
            scratch, listener: serverListener, port: try Loopback.freePort(), monitorPort: monitorPort)
        _ = try await monitorListener.first("READY=1", within: 15, detail: { monitor.outputSummary }) { $0.isReady }
        _ = try await serverListener.first("READY=1", within: 15, detail: { server.outputSummary }) { $0.isReady }
        _ = try await serverListener.first("STATUS as primary", within: 15, detail: { server.outputSummary }) {
            $0.status?.hasPrefix("primary of view 1") == true
        }

        for (child, listener) in [(server, serverListener), (monitor, monitorListener)] {
            // The daemons install their SIGTERM handling (ServiceLifecycle's ServiceGroup)
            // only just after READY=1; a SIGTERM before that kills by the default action,
            // without STOPPING=1. Wait until /proc shows the signal handled.
            try await waitUntil("\(child.name) handles SIGTERM", timeout: 10) { child.handlesSignal(SIGTERM) }
            child.signal(SIGTERM)
            let stopping = try await listener.first(
                "STOPPING=1 from \(child.name)", within: 10, detail: { child.outputSummary }
            ) { $0.isStopping }
            XCTAssertEqual(stopping.pid, child.pid)
            XCTAssertEqual(stopping.status?.hasPrefix("stopping"), true)
            try await child.waitForExit(within: 10)
            XCTAssertNil(child.terminatingSignal, child.outputSummary)
            XCTAssertEqual(child.exitCode, 0, child.outputSummary)
            // After STOPPING=1 no READY=1, no second STOPPING=1, and no loop's STATUS=
            // replacing the stopping one; only the stop's own phases ("stopping: ...").
            // (A last tick may still send WATCHDOG=1, which is harmless.)
            let afterStopping = listener.messages.drop(while: { !$0.isStopping }).dropFirst()
            XCTAssertFalse(afterStopping.contains(where: \.isReady), "\(child.name): READY=1 after STOPPING=1")
            XCTAssertFalse(afterStopping.contains(where: \.isStopping), "\(child.name): STOPPING=1 twice")
            XCTAssertFalse(
                afterStopping.contains { $0.status.map { !$0.hasPrefix("stopping") } ?? false },
                "\(child.name): \(afterStopping.map(\.text))")
        }
    }
}
