import KVClient
import KVProtocol
import KVTestSupport
import KVTransport
import XCTest

/// The original TestConcurrentSame and TestConcurrentSameUnreliable: several clients put
/// to the same few keys at once (in the unreliable case through proxies that drop
/// requests and replies). Afterwards the primary's and the backup's stores are
/// identical and equal to what a client reads, and the backup still has those values
/// after it takes over.
final class ConcurrentSameTests: XCTestCase {
    func testConcurrentClientsSameKeys() async throws {
        try await runConcurrentSame(unreliable: false)
    }

    func testConcurrentClientsSameKeysUnreliable() async throws {
        try await runConcurrentSame(unreliable: true)
    }

    private func runConcurrentSame(unreliable: Bool) async throws {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer(viaProxy: unreliable)
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer(viaProxy: unreliable)
        try await cluster.waitForView(primary: s1, backup: s2)
        if unreliable {
            try await cluster.setUnreliable(s1, true)
            try await cluster.setUnreliable(s2, true)
        }

        let keys = ["k0", "k1"]
        let workers = 3
        let duration = 3.0
        let clients = await (0..<workers).asyncMap { _ in await cluster.makeClient() }
        let operations = Locked(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (worker, client) in clients.enumerated() {
                group.addTask {
                    var rng = SplitMix64(seed: UInt64(worker) &+ 0x5EED)
                    let end = Date().addingTimeInterval(duration)
                    while Date() < end {
                        let key = keys[Int(rng.next() % UInt64(keys.count))]
                        let value = "\(worker)-\(rng.next() % 1_000_000)"
                        try await client.put(key, value, within: 20)
                        operations.update { $0 += 1 }
                    }
                }
            }
            for try await _ in group {}
        }
        XCTAssertGreaterThan(operations.get(), 3 * workers, "the workers made too little progress")

        // What a client reads now is what both replicas must hold.
        let reader = await cluster.makeClient()
        var expected: [Bytes: Bytes] = [:]
        for key in keys {
            guard let value = try await reader.get(key, within: 20) else { return XCTFail("\(key) missing") }
            expected[bytes(key)] = bytes(value)
        }
        if unreliable {
            try await cluster.setUnreliable(s1, false)
            try await cluster.setUnreliable(s2, false)
        }
        try await waitUntil("the backup is synchronised and both stores agree") {
            guard let primary = await cluster.snapshot(s1), let backup = await cluster.snapshot(s2) else {
                return false
            }
            return primary.backupSynchronized && primary.store == backup.store
        }
        let primaryStore = await cluster.snapshot(s1)?.store.values
        let backupStore = await cluster.snapshot(s2)?.store.values
        XCTAssertEqual(primaryStore, expected, "the primary's store differs from what clients read")
        XCTAssertEqual(backupStore, expected, "the backup's store differs from what clients read")

        // The backup takes over with the same values.
        await cluster.kill(s1)
        try await cluster.waitForView(primary: s2, backup: nil)
        for (key, value) in expected {
            try await check(reader, key.text, value.text)
        }
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
