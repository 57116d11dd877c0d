import Foundation
import KVTestSupport
import XCTest

/// kv-server's Redis-protocol endpoint next to a real Redis server: the same commands on
/// each (scripts/lib/redis_differential.py), the replies compared byte for byte in RESP2
/// and RESP3 — strings, counters, expiry, keys, errors, MULTI/EXEC/WATCH.
final class RedisDifferentialTests: XCTestCase {
    func testRepliesAreRedisOwnByteForByte() async throws {
        guard let redisServer = Binaries.tool("redis-server") else {
            throw XCTSkip("redis-server is not installed (Debian package redis-server)")
        }
        guard let python = Binaries.tool("python3") else { throw XCTSkip("python3 is not installed") }
        let scratch = try makeScratch()
        let redisPort = try Loopback.freePort()
        let redis = try scratch.spawn(
            "redis-server", redisServer,
            ["--port", "\(redisPort)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        try await waitUntil("redis-server listens", timeout: 10, detail: { redis.outputSummary }) {
            Loopback.isListening(port: redisPort)
        }
        let cluster = try await startRESPProcessCluster(scratch)
        let script = try Self.packageRoot() + "/scripts/lib/redis_differential.py"
        let run = try await scratch.run(
            "redis-differential", python,
            [script, "--redis-port", "\(redisPort)", "--kvservice-port", "\(cluster.primaryRESP)"], timeout: 60)
        XCTAssertEqual(run.status, 0, "\(run.stdout)\n\(run.stderr)")
        XCTAssertTrue(run.stdout.contains(" passed, 0 failed"), run.stdout)
    }
}
