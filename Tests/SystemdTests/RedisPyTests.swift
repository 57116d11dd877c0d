import Foundation
import KVTestSupport
import XCTest

/// kv-server's Redis-protocol endpoint through redis-py, in RESP2 and RESP3, then across a
/// failover: scripts/lib/redis_py_check.py against real kv-monitor and kv-server processes,
/// with the redis-py that scripts/lib/ensure-redis-py installs in .build/redis-py.
final class RedisPyTests: XCTestCase {
    func testRedisPyCommandsPipelinesAndAFailover() async throws {
        let root = try Self.packageRoot()
        let python = ProcessInfo.processInfo.environment["KV_REDIS_PY_PYTHON"] ?? root + "/.build/redis-py/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw XCTSkip("redis-py is not installed at \(python): run scripts/lib/ensure-redis-py")
        }
        let scratch = try makeScratch()
        let cluster = try await startRESPProcessCluster(scratch)
        let run = try await scratch.run(
            "redis-py", python,
            [
                root + "/scripts/lib/redis_py_check.py", "--primary-port", "\(cluster.primaryRESP)", "--backup-port",
                "\(cluster.backupRESP)", "--primary-pid", "\(cluster.primaryProcess.pid)",
            ], timeout: 120)
        XCTAssertEqual(run.status, 0, "\(run.stdout)\n\(run.stderr)")
        XCTAssertTrue(run.stdout.contains(" passed, 0 failed"), run.stdout)
        XCTAssertFalse(run.stdout.contains("FAIL"), run.stdout)
    }
}
