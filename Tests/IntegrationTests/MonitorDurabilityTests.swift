import KVClient
import KVProtocol
import KVTestSupport
import XCTest

/// The monitor's durability end to end (docs/DESIGN.md §2.6): a monitor with a state directory is
/// stopped and started again on the same port. Its view number does not go back, it
/// keeps the same primary and backup, and the servers carry on: data is served, and a
/// later fail-over still promotes the backup with everything.
final class MonitorDurabilityTests: XCTestCase {
    func testMonitorRestartKeepsTheView() async throws {
        let directory = try makeScratch().directory
        let cluster = try await makeCluster(stateDirectory: directory)
        let s1 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer()
        let before = try await cluster.waitForView(primary: s1, backup: s2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/view"), "the view is not on disk")

        let client = await cluster.makeClient()
        try await client.put("a", "1")
        try await client.put("b", "2")

        await cluster.stopMonitor()
        // While the monitor is down the primary keeps serving its view.
        try await client.put("c", "3")
        try await check(client, "c", "3")

        try await cluster.restartMonitor()
        let restartedAt = Date()
        let restored = await cluster.view()
        XCTAssertGreaterThanOrEqual(restored.viewnum, before.viewnum, "the view number went back")
        XCTAssertEqual(restored.primary, before.primary)
        XCTAssertEqual(restored.backup, before.backup)
        // The servers ping the new monitor and nothing changes: the same view stays in force.
        let after = try await cluster.waitForView(primary: s1, backup: s2)
        XCTAssertGreaterThanOrEqual(after.viewnum, before.viewnum)
        // The restored records start with a full grace period (their last ping counts as
        // "now"), so only pings seen well after the restart prove the servers came back.
        try await waitUntil("both servers ping the restarted monitor") {
            let servers = await cluster.monitor?.servers() ?? []
            return Date().timeIntervalSince(restartedAt) > 0.6 && servers.count == 2
                && servers.allSatisfy { $0.alive && $0.lastPingAgeMillis < 300 }
        }
        try await check(client, "a", "1")
        try await check(client, "c", "3")

        // A fail-over after the restart: the backup takes over with all data, in a newer view.
        await cluster.kill(s1)
        let failedOver = try await cluster.waitForView(primary: s2, backup: nil)
        XCTAssertGreaterThan(failedOver.viewnum, after.viewnum)
        try await check(client, "a", "1")
        try await check(client, "b", "2")
        try await check(client, "c", "3")

        // A restart with nobody pinging at first (servers are slow to come back): the view
        // is still the saved one, never view 0 or a fresh view 1.
        await cluster.stopMonitor()
        try await cluster.restartMonitor()
        let again = await cluster.view()
        XCTAssertEqual(again.viewnum, failedOver.viewnum)
        XCTAssertEqual(again.primary, failedOver.primary)
        try await cluster.waitForView(primary: s2, backup: nil)
        try await check(client, "b", "2")
    }
}
