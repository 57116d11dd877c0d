import Foundation
import KVClient
import KVProtocol
import KVTestSupport
import KVTransport
import ServerCore
import XCTest

/// `DiskLog` on real files under client load (docs/STORAGE.md, "Writing"): the turn's
/// writes on the loop and compactions on the I/O threads interleave, and after a kill of
/// everything each member recovers every acknowledged write from its snapshot and log.
final class LogCompactionTests: XCTestCase {
    func testCompactionsUnderLoadLoseNothing() async throws {
        for policy in [FsyncPolicy.always, .everysec] {
            try await compactUnderLoadThenKillEverything(policy)
        }
    }

    private func compactUnderLoadThenKillEverything(_ policy: FsyncPolicy) async throws {
        let (cluster, scratch) = try await makeDurableCluster()
        // About 200 bytes a put: a compaction every 150 puts or so at first.
        let small = 32 << 10
        let s0 = try await cluster.addServer(
            dataDirectory: scratch + "/s0", fsync: policy, compactionMinimumBytes: small)
        try await cluster.waitForView(primary: s0, backup: nil)
        let s1 = try await cluster.addServer(
            dataDirectory: scratch + "/s1", fsync: policy, compactionMinimumBytes: small)
        try await cluster.waitForView(primary: s0, backup: s1)

        var written: [String: String] = [:]
        let workers = 4
        try await withThrowingTaskGroup(of: [String: String].self) { group in
            for worker in 0..<workers {
                let client = await cluster.makeClient()
                group.addTask {
                    var mine: [String: String] = [:]
                    // Keys rewritten several times, so that snapshots replace log records.
                    for round in 0..<500 {
                        let key = "w\(worker)-\(round % 150)"
                        let value = "\(policy)-\(round)-" + String(repeating: "v", count: 100)
                        try await client.put(key, value)
                        mine[key] = value
                    }
                    return mine
                }
            }
            for try await mine in group { written.merge(mine) { $1 } }
        }

        let client = await cluster.makeClient()
        for server in [s0, s1] {
            let address = await cluster.address(server)
            guard
                case .serverInfoReply(let stats) = try await client.ask(
                    server: address, .serverInfo, timeout: .seconds(2))
            else { return XCTFail("no report from \(address)") }
            let storage = try XCTUnwrap(stats.storage)
            XCTAssertGreaterThan(storage.snapshotBytes, 0, "\(policy): \(address) never compacted")
            XCTAssertLessThan(
                storage.logBytes, 2_000 * 200,
                "\(policy): \(address)'s log holds every put: compactions truncate nothing")
        }

        // Everything at once; each member must recover the lot.
        try await cluster.restartEverythingAtOnce()
        let reader = await cluster.makeClient()
        for (key, value) in written.sorted(by: { $0.key < $1.key }) {
            let read = try await reader.get(key)
            XCTAssertEqual(read, value, "\(policy): \(key) lost or wrong after the restart")
        }
        await cluster.stopAll()
    }
}
