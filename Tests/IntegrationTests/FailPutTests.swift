import KVClient
import KVTestSupport
import XCTest

/// The original TestFailPut: a Put right after the backup fails, and a Put right after
/// the primary fails, both complete and are kept.
final class FailPutTests: XCTestCase {
    func testPutRightAfterBackupAndPrimaryFailure() async throws {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: s2)
        let s3 = try await cluster.addServer()
        try await waitUntil("the monitor knows the third server") {
            let address = await cluster.address(s3)
            return await cluster.monitor?.servers().contains { $0.address == address && $0.alive } ?? false
        }

        let client = await cluster.makeClient()
        try await client.put("a", "aa")
        try await client.put("b", "bb")
        try await client.put("c", "cc")
        try await check(client, "a", "aa")
        try await check(client, "b", "bb")
        try await check(client, "c", "cc")

        // Put immediately after backup failure: the primary cannot get it acknowledged
        // by the dead backup; the monitor replaces the backup and the Put completes.
        let beforeBackupFailure = await cluster.view()
        await cluster.kill(s2)
        try await client.put("a", "aaa")
        try await check(client, "a", "aaa")
        let afterBackupFailure = try await cluster.waitForView(primary: s1, backup: s3)
        XCTAssertGreaterThan(afterBackupFailure.viewnum, beforeBackupFailure.viewnum)
        try await check(client, "a", "aaa")

        // Put immediately after primary failure: the client finds the promoted backup.
        await cluster.kill(s1)
        try await client.put("b", "bbb")
        try await check(client, "b", "bbb")
        try await cluster.waitForView(primary: s3, backup: nil)
        try await check(client, "a", "aaa")
        try await check(client, "b", "bbb")
        try await check(client, "c", "cc")
    }
}
