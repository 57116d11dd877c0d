import Foundation
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

    func testMonitorIsReadyOnlyOnceItsPortAccepts() throws {
        let scratch = makeScratch()
        let listener = try makeNotifyListener(scratch)
        let port = Loopback.freePort()
        let probe = ReadyProbe()
        listener.onMessage = { message in
            if message.isReady { probe.record(Loopback.accepts(port: port), 0) }
        }
        let monitor = try startMonitor(scratch, listener: listener, port: port)
        let ready = listener.first(within: 15) { $0.isReady }
        XCTAssertNotNil(ready, "no READY=1\n\(monitor.outputSummary)")
        XCTAssertEqual(probe.value?.accepted, true, "the port did not accept when READY=1 arrived")
        XCTAssertEqual(ready?.pid, monitor.pid, "READY=1 comes from the daemon itself")
        XCTAssertEqual(listener.statusAtReady, "waiting for the first server; 0 live servers")
        XCTAssertEqual(listener.messages.filter(\.isReady).count, 1, "READY=1 once")
    }

    func testServerIsReadyAfterListeningAndItsFirstPingAttempt() throws {
        let scratch = makeScratch()
        // 1. A monitor that accepts but never answers: the server's first ping (its hello)
        //    reaches it and times out (1 s); READY=1 only after that attempt.
        let silent = try SilentListener()
        addTeardownBlock { silent.stop() }
        let listener = try makeNotifyListener(scratch, "silent")
        let port = Loopback.freePort()
        let probe = ReadyProbe()
        listener.onMessage = { message in
            if message.isReady { probe.record(Loopback.accepts(port: port), silent.bytesReceived) }
        }
        let server = try startServer(scratch, listener: listener, port: port, monitorPort: silent.port)
        let ready = listener.first(within: 15) { $0.isReady }
        XCTAssertNotNil(ready, "no READY=1 with a silent monitor\n\(server.outputSummary)")
        XCTAssertEqual(probe.value?.accepted, true, "the port did not accept when READY=1 arrived")
        XCTAssertGreaterThan(probe.value?.extra ?? 0, 0, "READY=1 before the first ping reached the monitor")
        XCTAssertEqual(listener.statusAtReady, "waiting for the monitor's first view")
        XCTAssertEqual(ready?.pid, server.pid)

        // 2. No monitor at all (refused): ready all the same, promptly.
        let refusedListener = try makeNotifyListener(scratch, "refused")
        let refusedPort = Loopback.freePort()
        let refusedProbe = ReadyProbe()
        refusedListener.onMessage = { message in
            if message.isReady { refusedProbe.record(Loopback.accepts(port: refusedPort), 0) }
        }
        let lonely = try startServer(
            scratch, listener: refusedListener, port: refusedPort, monitorPort: Loopback.freePort())
        XCTAssertNotNil(
            refusedListener.first(within: 15) { $0.isReady }, "no READY=1 without a monitor\n\(lonely.outputSummary)")
        XCTAssertEqual(refusedProbe.value?.accepted, true)

        // 3. A real monitor: READY=1 after the first ping's answer, so it already names view 1.
        let monitorPort = Loopback.freePort()
        let monitor = try startMonitor(scratch, listener: nil, port: monitorPort, watchdog: false)
        XCTAssertTrue(waitUntil(15) { Loopback.accepts(port: monitorPort) }, monitor.outputSummary)
        let realListener = try makeNotifyListener(scratch, "real")
        let realPort = Loopback.freePort()
        let realProbe = ReadyProbe()
        realListener.onMessage = { message in
            if message.isReady { realProbe.record(Loopback.accepts(port: realPort), 0) }
        }
        let served = try startServer(scratch, listener: realListener, port: realPort, monitorPort: monitorPort)
        let realReady = realListener.first(within: 15) { $0.isReady }
        XCTAssertNotNil(realReady, served.outputSummary)
        XCTAssertEqual(realProbe.value?.accepted, true)
        XCTAssertEqual(
            realListener.statusAtReady?.hasPrefix("primary of view 1"), true, "\(realListener.messages.map(\.text))")
    }

    // MARK: - STATUS=

    func testStatusFollowsTheView() throws {
        let scratch = makeScratch()
        let monitorListener = try makeNotifyListener(scratch, "monitor")
        let monitorPort = Loopback.freePort()
        let monitor = try startMonitor(scratch, listener: monitorListener, port: monitorPort)
        XCTAssertNotNil(monitorListener.first(within: 15) { $0.isReady }, monitor.outputSummary)
        XCTAssertEqual(monitorListener.statusAtReady, "waiting for the first server; 0 live servers")

        let firstListener = try makeNotifyListener(scratch, "server1")
        let firstPort = Loopback.freePort()
        let first = try startServer(scratch, listener: firstListener, port: firstPort, monitorPort: monitorPort)
        let firstAddress = "127.0.0.1:\(firstPort)"

        // The monitor's STATUS moves from "waiting" to view 1 with this primary, then to
        // acknowledged.
        let view1 = monitorListener.first(within: 15) {
            $0.status?.hasPrefix("view 1: primary \(firstAddress), backup -") == true
        }
        XCTAssertNotNil(
            view1, "monitor STATUS: \(monitorListener.messages.compactMap(\.status))\n\(monitor.outputSummary)")
        XCTAssertNotNil(
            monitorListener.first(within: 15) {
                $0.status == "view 1: primary \(firstAddress), backup -, acknowledged; 1 live servers"
            },
            "monitor STATUS: \(monitorListener.messages.compactMap(\.status))")
        // The server's STATUS names its role and the view.
        XCTAssertNotNil(
            firstListener.first(within: 15) { $0.status?.hasPrefix("primary of view 1 (no backup)") == true },
            "server STATUS: \(firstListener.messages.compactMap(\.status))\n\(first.outputSummary)")

        // A second server becomes backup: view 2 everywhere.
        let secondListener = try makeNotifyListener(scratch, "server2")
        let secondPort = Loopback.freePort()
        let second = try startServer(scratch, listener: secondListener, port: secondPort, monitorPort: monitorPort)
        let secondAddress = "127.0.0.1:\(secondPort)"
        XCTAssertNotNil(
            monitorListener.first(within: 15) {
                $0.status == "view 2: primary \(firstAddress), backup \(secondAddress), acknowledged; 2 live servers"
            }, "monitor STATUS: \(monitorListener.messages.compactMap(\.status))")
        XCTAssertNotNil(
            secondListener.first(within: 15) {
                $0.status?.hasPrefix("backup of view 2 (primary \(firstAddress))") == true
            },
            "backup STATUS: \(secondListener.messages.compactMap(\.status))\n\(second.outputSummary)")
        XCTAssertNotNil(
            firstListener.first(within: 15) {
                $0.status?.hasPrefix("primary of view 2 (backup \(secondAddress) synchronised)") == true
            },
            "primary STATUS: \(firstListener.messages.compactMap(\.status))")

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
    private func watchdogTimes(_ listener: NotifyListener, over window: Double) -> [Double] {
        let start = listener.sync()!
        let deadline = Date().addingTimeInterval(window)
        waitUntil(window + 1) { Date() >= deadline }  // the window itself is what is measured
        let end = listener.sync()!
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

    func testWatchdogRateAndSilenceWhileStopped() throws {
        let scratch = makeScratch()
        let monitorListener = try makeNotifyListener(scratch, "monitor")
        let monitorPort = Loopback.freePort()
        let monitor = try startMonitor(scratch, listener: monitorListener, port: monitorPort)
        let serverListener = try makeNotifyListener(scratch, "server")
        let server = try startServer(
            scratch, listener: serverListener, port: Loopback.freePort(), monitorPort: monitorPort)
        XCTAssertNotNil(monitorListener.first(within: 15) { $0.isReady }, monitor.outputSummary)
        XCTAssertNotNil(serverListener.first(within: 15) { $0.isReady }, server.outputSummary)

        let window = 2.0
        assertWatchdogRate(watchdogTimes(monitorListener, over: window), window: window, who: "kv-monitor")
        assertWatchdogRate(watchdogTimes(serverListener, over: window), window: window, who: "kv-server")
        XCTAssertTrue(monitorListener.messages.filter(\.isWatchdog).allSatisfy { $0.pid == monitor.pid })

        // SIGSTOP: once the process is stopped (and every datagram it sent before is
        // read), no WATCHDOG=1 for a window of many ping periods.
        for (child, listener) in [(server, serverListener), (monitor, monitorListener)] {
            child.signal(SIGSTOP)
            XCTAssertTrue(waitUntil(5) { child.procState == "T" }, "\(child.name) did not stop")
            let silent = watchdogTimes(listener, over: 0.6)  // 6 quarter intervals, 3 deadlines
            XCTAssertEqual(silent.count, 0, "\(child.name) pinged while stopped: \(silent)")
            // SIGCONT: the pings resume.
            let resumeFrom = listener.sync()!
            child.signal(SIGCONT)
            XCTAssertTrue(
                waitUntil(5) { listener.all[(resumeFrom + 1)...].contains(where: \.isWatchdog) },
                "\(child.name) did not resume pinging after SIGCONT")
            XCTAssertTrue(child.isRunning)
        }
        // And still at the configured rate afterwards.
        assertWatchdogRate(watchdogTimes(serverListener, over: 1.0), window: 1.0, who: "kv-server after SIGCONT")
    }

    func testWatchdogPidNamingAnotherProcessDisablesPings() throws {
        let scratch = makeScratch()
        let listener = try makeNotifyListener(scratch)
        let port = Loopback.freePort()
        let monitor = try startMonitor(
            scratch, listener: listener, port: port, extraEnvironment: ["WATCHDOG_PID": "\(getpid())"])
        XCTAssertNotNil(listener.first(within: 15) { $0.isReady }, monitor.outputSummary)
        // Long enough for several pings at the configured rate (every 100–150 ms).
        let times = watchdogTimes(listener, over: 0.8)
        XCTAssertEqual(times.count, 0, "WATCHDOG=1 although WATCHDOG_PID names the test process")
        XCTAssertEqual(listener.messages.filter(\.isWatchdog).count, 0)
        XCTAssertTrue(
            monitor.stderr.contains("kv_watchdog_ms=-"),
            "startup record should say no watchdog\n\(monitor.outputSummary)")
    }

    func testATickSlowerThanTheWatchdogIsReported() throws {
        let scratch = makeScratch()
        let listener = try makeNotifyListener(scratch)
        let port = Loopback.freePort()
        // WatchdogSec=400ms needs a ping every 200 ms; a 300 ms tick cannot keep up.
        let monitor = try scratch.spawn(
            "kv-monitor", Binaries.monitor,
            ["--listen", "127.0.0.1:\(port)", "--ping-interval", "300ms", "--log-target", "stderr"],
            environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "\(Self.watchdogUsec)"])
        XCTAssertNotNil(listener.first(within: 15) { $0.isReady }, monitor.outputSummary)
        XCTAssertTrue(
            waitUntil(5) { monitor.stderr.contains("slower than half the watchdog interval") }, monitor.outputSummary)
    }

    // MARK: - STOPPING=1

    func testSigtermSendsStoppingAndExitsCleanly() throws {
        let scratch = makeScratch()
        let monitorListener = try makeNotifyListener(scratch, "monitor")
        let monitorPort = Loopback.freePort()
        let monitor = try startMonitor(scratch, listener: monitorListener, port: monitorPort)
        let serverListener = try makeNotifyListener(scratch, "server")
        let server = try startServer(
            scratch, listener: serverListener, port: Loopback.freePort(), monitorPort: monitorPort)
        XCTAssertNotNil(monitorListener.first(within: 15) { $0.isReady }, monitor.outputSummary)
        XCTAssertNotNil(serverListener.first(within: 15) { $0.isReady }, server.outputSummary)
        XCTAssertNotNil(
            serverListener.first(within: 15) { $0.status?.hasPrefix("primary of view 1") == true }, server.outputSummary
        )

        for (child, listener) in [(server, serverListener), (monitor, monitorListener)] {
            // The daemons install their SIGTERM handling (ServiceLifecycle's ServiceGroup)
            // only just after READY=1; a SIGTERM before that kills by the default action,
            // without STOPPING=1. Wait until /proc shows the signal handled.
            XCTAssertTrue(waitUntil(10) { child.handlesSignal(SIGTERM) }, "\(child.name) never handled SIGTERM")
            child.signal(SIGTERM)
            let stopping = listener.first(within: 10) { $0.isStopping }
            XCTAssertNotNil(stopping, "\(child.name): no STOPPING=1\n\(child.outputSummary)")
            XCTAssertEqual(stopping?.pid, child.pid)
            XCTAssertEqual(stopping?.status?.hasPrefix("stopping"), true)
            XCTAssertTrue(child.waitForExit(within: 10), "\(child.name) did not exit within 10 s of SIGTERM")
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
