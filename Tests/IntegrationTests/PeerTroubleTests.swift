import KVProtocol
import KVTestSupport
import XCTest

/// Issue 17: a server that cannot reach its monitor says so (log, status line, metrics)
/// after a few ping intervals, and says when it is back.
final class PeerTroubleTests: XCTestCase {
    func testAServerWhoseMonitorIsGoneSaysSoAndWhenItIsBack() async throws {
        let cluster = try await makeCluster()
        let s0 = try await cluster.addServer()
        try await cluster.waitForView(primary: s0, backup: nil)
        let maybeNode = await cluster.node(s0)
        let node = try XCTUnwrap(maybeNode)
        let healthy = await node.currentSummary()
        XCTAssertNil(healthy?.trouble)
        await cluster.stopMonitor()
        try await waitUntil("the server says its monitor is unreachable", timeout: 10) {
            (await node.currentSummary()?.trouble ?? "").contains("monitor unreachable")
        }
        let trouble = await node.currentSummary()?.trouble ?? ""
        XCTAssertTrue(trouble.contains(cluster.monitorAddress), trouble)
        try await cluster.restartMonitor()
        try await waitUntil("the trouble clears once the monitor answers", timeout: 10) {
            await node.currentSummary()?.trouble == nil
        }
    }

    func testAPrimaryWhoseBackupDoesNotAnswerSaysSo() async throws {
        let cluster = try await makeCluster()
        let s0 = try await cluster.addServer()
        try await cluster.waitForView(primary: s0, backup: nil)
        let s1 = try await cluster.addServer(viaProxy: true)
        try await cluster.waitForView(primary: s0, backup: s1)
        let maybeNode = await cluster.node(s0)
        let primary = try XCTUnwrap(maybeNode)
        let client = await cluster.makeClient()
        try await client.put("before", "cut")
        // The link to the backup goes silent (the backup still pings, so it stays backup),
        // and a write has to reach it.
        try await cluster.proxy(s1).hold()
        let writer = Task { try? await client.put("during", "cut", within: 20) }
        try await waitUntil("the primary says its backup is unreachable", timeout: 15) {
            (await primary.currentSummary()?.trouble ?? "").contains("backup")
        }
        try await cluster.proxy(s1).release()
        _ = await writer.value
        try await waitUntil("the trouble clears once the backup answers", timeout: 15) {
            await primary.currentSummary()?.trouble == nil
        }
    }
}
