import KVClient
import KVProtocol
import KVServices
import KVTestSupport
import NIOCore
import XCTest

/// Planned hand-overs with clients running: a rolling restart of every server (each
/// stopped as SIGTERM stops kv-server, then started empty) and repeated switchovers.
/// Neither may fail a request or lose a write, and neither waits for a dead-ping timeout.
final class HandOverTests: XCTestCase {
    func testRollingRestartFailsNoRequestAndLosesNoWrite() async throws {
        let cluster = try await makeCluster()
        for _ in 0..<3 { try await cluster.addServer() }
        try await waitUntil("a synchronised primary and backup") { await cluster.hasSynchronizedPair() }
        let workload = await CheckedWorkload(clients: (0..<4).asyncMap { _ in await cluster.makeClient() })
        workload.start()

        var restarts = 0
        for _ in 0..<2 {
            // Always the primary: the hardest case. Idle servers are picked in address
            // order, so across the three restarts each server is stopped once per round.
            for _ in 0..<(await cluster.serverCount) {
                let before = workload.operationCount
                try await waitUntil("the clients make progress") { workload.operationCount > before + 20 }
                let view = await cluster.view()
                let primary = await cluster.index(of: view.primary)
                let index = try XCTUnwrap(primary)
                let outcome = try await cluster.restartGracefully(index)
                guard case .relieved(let after) = outcome else {
                    return XCTFail("server \(index) was not relieved: \(String(describing: outcome))")
                }
                XCTAssertNotEqual(after.primary, view.primary)
                XCTAssertEqual(after.primary, view.backup, "the synchronised backup took over")
                restarts += 1
                try await waitUntil("a synchronised pair again", timeout: 15) { await cluster.hasSynchronizedPair() }
            }
        }
        let report = await workload.stop()
        XCTAssertEqual(restarts, 6)
        XCTAssertEqual(report.failures, [], "\(report)")
        XCTAssertGreaterThan(report.operations, 6 * 20)
    }

    func testStoppingTheBackupOrAnIdleServerLeavesThePrimaryAlone() async throws {
        let cluster = try await makeCluster()
        for _ in 0..<3 { try await cluster.addServer() }
        try await waitUntil("a synchronised primary and backup") { await cluster.hasSynchronizedPair() }
        let workload = await CheckedWorkload(clients: (0..<2).asyncMap { _ in await cluster.makeClient() })
        workload.start()
        let view = await cluster.view()
        let backupIndex = await cluster.index(of: view.backup)
        let backup = try XCTUnwrap(backupIndex)
        var idle: Int?
        for index in 0..<3 where await cluster.address(index) != view.primary && index != backup { idle = index }
        let idleAddress = await cluster.address(try XCTUnwrap(idle))

        let backupOutcome = await cluster.stopGracefully(backup)
        guard case .relieved(let next) = backupOutcome else {
            return XCTFail("backup not relieved: \(String(describing: backupOutcome))")
        }
        XCTAssertEqual(next.primary, view.primary, "a leaving backup moves nobody else")
        XCTAssertEqual(next.backup, idleAddress, "the idle server replaces it")
        try await waitUntil("the new backup is synchronised") { await cluster.hasSynchronizedPair() }

        try await cluster.restart(backup)  // back, idle
        try await waitUntil("the restarted server is known") {
            await cluster.snapshot(backup)?.view.viewnum ?? 0 > 0
        }
        let idleOutcome = await cluster.stopGracefully(backup)
        guard case .relieved(let unchanged) = idleOutcome else {
            return XCTFail("idle server not relieved: \(String(describing: idleOutcome))")
        }
        XCTAssertEqual(unchanged.primary, next.primary)
        XCTAssertEqual(unchanged.backup, next.backup)

        let report = await workload.stop()
        XCTAssertEqual(report.failures, [], "\(report)")
    }

    func testLeavingPrimaryWithoutBackupGivesUpWaiting() async throws {
        let cluster = try await makeCluster()
        let only = try await cluster.addServer()
        try await cluster.waitForView(primary: only, backup: nil)
        let outcome = await cluster.stopGracefully(only, leaveTimeout: .seconds(30))
        guard case .nobodyToTakeOver(let view) = outcome else {
            return XCTFail("want nobodyToTakeOver, got \(String(describing: outcome))")
        }
        let address = await cluster.address(only)
        XCTAssertEqual(view.primary, address)
    }

    /// Every unit stopped at once: the monitor is gone first, and nothing listens at its
    /// address. Neither server waits out its leave timeout for an answer that cannot come;
    /// with data directories their data stays on disk.
    func testStoppedServersDoNotWaitForAMonitorThatIsGone() async throws {
        let scratch = try makeScratch().directory
        let cluster = try await makeCluster()
        let primary = try await cluster.addServer(dataDirectory: scratch + "/s0")
        try await cluster.waitForView(primary: primary, backup: nil)
        let backup = try await cluster.addServer(dataDirectory: scratch + "/s1")
        try await cluster.waitForView(primary: primary, backup: backup)
        await cluster.stopMonitor()
        let started = ContinuousClock.now
        for index in [backup, primary] {
            let outcome = await cluster.stopGracefully(index, leaveTimeout: .seconds(30))
            guard case .monitorUnreachable(_, let reason) = outcome else {
                return XCTFail("server \(index): want monitorUnreachable, got \(String(describing: outcome))")
            }
            XCTAssertTrue(reason.contains("refused"), reason)
        }
        let elapsed = ContinuousClock.now - started
        XCTAssertLessThan(elapsed, .seconds(10), "the leaves waited for the stopped monitor")
    }

    func testRepeatedSwitchoversFailNoRequest() async throws {
        let cluster = try await makeCluster()
        for _ in 0..<2 { try await cluster.addServer() }
        try await waitUntil("a synchronised primary and backup") { await cluster.hasSynchronizedPair() }
        let workload = await CheckedWorkload(clients: (0..<4).asyncMap { _ in await cluster.makeClient() })
        workload.start()
        let admin = await cluster.makeClient()
        for _ in 0..<6 {
            let before = workload.operationCount
            try await waitUntil("the clients make progress") { workload.operationCount > before + 20 }
            try await waitUntil("a synchronised pair") { await cluster.hasSynchronizedPair() }
            let view = await cluster.view()
            var answer: SwitchoverReply?
            // "Not now" until the backup has pinged in this view (within a tick or two).
            try await waitUntil("the monitor carries out the switchover") {
                answer = try await admin.switchover(from: view.viewnum, deadline: .now() + .seconds(5))
                return answer?.status != .retryLater
            }
            XCTAssertEqual(answer?.status, .done, answer?.reason ?? "")
            XCTAssertEqual(answer?.view.primary, view.backup)
            XCTAssertEqual(answer?.view.backup, view.primary, "the old primary becomes the backup")
            // The same request again (a retry after a lost answer) gets the same answer
            // and does not switch back.
            // (The view in force may have been acknowledged since: `acked` is not compared.)
            let again = try await admin.switchover(from: view.viewnum, deadline: .now() + .seconds(5))
            XCTAssertEqual(again.status, answer?.status)
            XCTAssertEqual(again.view.viewnum, answer?.view.viewnum)
            XCTAssertEqual(again.view.primary, answer?.view.primary)
            XCTAssertEqual(again.view.backup, answer?.view.backup)
            let now = await cluster.view()
            XCTAssertEqual(now.primary, view.backup)
        }
        let report = await workload.stop()
        XCTAssertEqual(report.failures, [], "\(report)")
    }
}
