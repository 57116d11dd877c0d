import Foundation
import KVClient
import KVProtocol
import KVTestSupport
import KVTransport
import ServerCore
import XCTest

/// A full disk under a real server (docs/STORAGE.md, "Errors"): the server stays up, the
/// primary refuses updates with retryLater while its log waits for space, the reply that
/// waited is sent once space returns, and every acknowledged write survives a restart.
final class DiskFullTests: XCTestCase {
    func testAFullDiskRefusesUpdatesAndLosesNothing() async throws {
        for policy in [FsyncPolicy.always, .everysec] {
            try await fillThePrimarysDisk(policy)
        }
    }

    private func fillThePrimarysDisk(_ policy: FsyncPolicy) async throws {
        let (cluster, scratch) = try await makeDurableCluster()
        let s0 = try await cluster.addServer(dataDirectory: scratch + "/s0", fsync: policy)
        try await cluster.waitForView(primary: s0, backup: nil)
        let s1 = try await cluster.addServer(dataDirectory: scratch + "/s1", fsync: policy)
        try await cluster.waitForView(primary: s0, backup: s1)
        let client = await cluster.makeClient()
        var written: [String: String] = [:]
        for index in 0..<20 {
            try await client.put("k\(index)", "before-\(index)")
            written["k\(index)"] = "before-\(index)"
        }

        // A short write, then ENOSPC: the log is cut back and the record waits.
        let node = await cluster.node(s0)
        let directory = try XCTUnwrap(node?.diskLog?.directory)
        directory.limitSpaceForTests(to: 5)
        let waiting = Task { try await client.put("held", "\(policy)") }
        try await waitUntil("\(policy): the primary finds its disk full", timeout: 10) {
            await cluster.inspect(s0) { $0.diskFull } == true
        }
        XCTAssertEqual(node?.diskLog?.waitingForSpace, true, "\(policy): the log no longer waits for space")

        let raw = await cluster.makeClient()
        let address = await cluster.address(s0)
        let refused = try await raw.ask(
            server: address, .request(ClientRequest(op: .put, clientID: 991, seq: 1, key: bytes("new"), value: [])),
            timeout: .seconds(5))
        guard case .reply(let reply) = refused else { return XCTFail("\(policy): no reply but \(refused)") }
        XCTAssertEqual(reply.status, .retryLater, "\(policy): an update taken while the disk is full")
        let info = try await raw.ask(server: address, .serverInfo, timeout: .seconds(5))
        guard case .serverInfoReply(let stats) = info else { return XCTFail("\(policy): no server info") }
        XCTAssertTrue(
            try XCTUnwrap(stats.storage).opening.contains("disk is full"), "\(policy): server-info says nothing")
        let held = await cluster.inspect(s0) { $0.pendingReplies }
        XCTAssertEqual(held, 1, "\(policy): the reply waiting for the log was sent")

        // Space returns: the record goes in, the reply that waited for it is sent.
        directory.limitSpaceForTests(to: nil)
        try await waitUntil("\(policy): the reply that waited for the log is sent", timeout: 10) {
            await cluster.inspect(s0) { $0.pendingReplies } == 0
        }
        try await waiting.value
        written["held"] = "\(policy)"
        try await waitUntil("\(policy): the primary takes updates again", timeout: 10) {
            await cluster.inspect(s0) { $0.diskFull } == false
        }
        try await client.put("after", "\(policy)")
        written["after"] = "\(policy)"

        try await cluster.restartEverythingAtOnce()
        let reader = await cluster.makeClient()
        for (key, value) in written.sorted(by: { $0.key < $1.key }) {
            let read = try await reader.get(key)
            XCTAssertEqual(read, value, "\(policy): \(key) lost after the restart")
        }
        await cluster.stopAll()
    }

    /// A transfer's replacing snapshot on a new backup whose disk is full waits, and the
    /// last chunk is not acknowledged: the view stays unsynchronised, the backup stays
    /// up, and once there is space the transfer completes and the pair loses nothing.
    func testATransferToABackupWithAFullDiskCompletesOnceThereIsSpace() async throws {
        let (cluster, scratch) = try await makeDurableCluster()
        let s0 = try await cluster.addServer(dataDirectory: scratch + "/s0")
        try await cluster.waitForView(primary: s0, backup: nil)
        let s1 = try await cluster.addServer(dataDirectory: scratch + "/s1")
        try await cluster.waitForView(primary: s0, backup: s1)
        let client = await cluster.makeClient()
        var written: [String: String] = [:]
        for index in 0..<50 {
            try await client.put("k\(index)", String(repeating: "v", count: 200))
            written["k\(index)"] = String(repeating: "v", count: 200)
        }
        // A spare, whose disk fills up before the transfer reaches it.
        let s2 = try await cluster.addServer(dataDirectory: scratch + "/s2")
        let node = await cluster.node(s2)
        let directory = try XCTUnwrap(node?.diskLog?.directory)
        directory.limitSpaceForTests(to: 0)
        await cluster.kill(s1)
        let spare = await cluster.address(s2)
        try await waitUntil("the spare is the view's backup and its snapshot waits for space", timeout: 15) {
            await cluster.view().backup == spare && node?.diskLog?.waitingForSpace == true
        }
        let synchronised = await cluster.inspect(s0) { $0.backupSynchronized }
        XCTAssertEqual(synchronised, false, "the last chunk was acknowledged before its snapshot was written")
        let running = await cluster.inspect(s2) { _ in true }
        XCTAssertEqual(running, true, "the spare stopped on a full disk")

        directory.limitSpaceForTests(to: nil)
        try await cluster.waitForView(primary: s0, backup: s2, timeout: 20)
        try await client.put("after", "transfer")
        written["after"] = "transfer"

        await cluster.kill(s0)
        await cluster.kill(s2)
        await cluster.stopMonitor()
        try await cluster.restartMonitor()
        try await cluster.restart(s0)
        try await cluster.restart(s2)
        try await waitUntil("the pair is synchronised again", timeout: 15) { await cluster.hasSynchronizedPair() }
        let reader = await cluster.makeClient()
        for (key, value) in written.sorted(by: { $0.key < $1.key }) {
            let read = try await reader.get(key)
            XCTAssertEqual(read, value, "\(key) lost after the restart")
        }
        await cluster.stopAll()
    }

    /// A compaction whose snapshot does not fit is abandoned: its temporary removed, the
    /// log kept whole, the server up and writing; nothing is lost across a restart.
    func testACompactionThatFindsTheDiskFullIsAbandoned() async throws {
        let (cluster, scratch) = try await makeDurableCluster()
        let s0 = try await cluster.addServer(dataDirectory: scratch + "/s0", compactionMinimumBytes: 32 << 10)
        try await cluster.waitForView(primary: s0, backup: nil)
        let node = await cluster.node(s0)
        let log = try XCTUnwrap(node?.diskLog)
        let client = await cluster.makeClient()
        var written: [String: String] = [:]
        @Sendable func put(_ index: Int, within seconds: Double = 15) async throws -> (key: String, value: String) {
            let key = "k\(index)"
            let value = "\(index)-" + String(repeating: "v", count: 200)
            try await client.put(key, value, within: seconds)
            return (key, value)
        }
        // Compactions start at a tick once the log holds 32 KiB. Just short of it, the
        // space left is cut to 6 KiB: room for the records that cross the mark and for
        // the compaction's new log and manifest, not for its snapshot of every key.
        var index = 0
        while log.current.logBytes < 31 << 10 {
            let (key, value) = try await put(index)
            written[key] = value
            index += 1
        }
        log.directory.limitSpaceForTests(to: 6 << 10)
        // The records that cross the mark go in from a task. A compaction may start before
        // the last of them, and its snapshot's short write take the last bytes: the update
        // in flight is then refused (retryLater) until the limit is lifted below, as on a
        // real disk once the abandoned snapshot's temporary is removed. The deadline covers
        // the waits below.
        let crossing = Task { [index] () -> [String: String] in
            var crossed: [String: String] = [:]
            var next = index
            while log.current.logBytes < 33 << 10 && log.current.compactionsAbandoned == 0 {
                let (key, value) = try await put(next, within: 60)
                crossed[key] = value
                next += 1
            }
            return crossed
        }
        defer { crossing.cancel() }
        try await waitUntil(
            "a compaction is abandoned", timeout: 10,
            detail: { "\(log.current), waiting for space: \(log.waitingForSpace)" }
        ) { log.current.compactionsAbandoned > 0 }
        XCTAssertEqual(log.current.snapshotBytes, 0, "a snapshot was installed")
        try await waitUntil("the abandoned snapshot's temporary is removed", timeout: 5) {
            let names = try FileManager.default.contentsOfDirectory(atPath: scratch + "/s0")
            return !names.contains { $0.hasSuffix(".tmp") }
        }
        let running = await cluster.inspect(s0) { _ in true }
        XCTAssertEqual(running, true, "the server stopped on a full disk")

        log.directory.limitSpaceForTests(to: nil)
        written.merge(try await crossing.value) { $1 }
        let (key, value) = try await put(1_000_000)
        written[key] = value
        await cluster.kill(s0)
        await cluster.stopMonitor()
        try await cluster.restartMonitor()
        try await cluster.restart(s0)
        try await cluster.waitForView(primary: s0, backup: nil, timeout: 15)
        let reader = await cluster.makeClient()
        for (key, value) in written.sorted(by: { $0.key < $1.key }) {
            let read = try await reader.get(key)
            XCTAssertEqual(read, value, "\(key) lost after the restart")
        }
        await cluster.stopAll()
    }
}
