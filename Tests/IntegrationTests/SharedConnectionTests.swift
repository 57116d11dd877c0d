import KVClient
import KVProtocol
import KVTestSupport
import KVTransport
import NIOCore
import NIOPosix
import XCTest

/// Many client sessions multiplexed over one `KVConnectionPool`: each keeps its own
/// at-most-once sequence, and a pooled connection that dies takes down only the requests
/// in flight on it; the sessions retry on a new connection.
final class SharedConnectionTests: XCTestCase {
    private let sessionCount = 50

    func testFiftySessionsOverOneConnectionEachReadTheirOwnWrites() async throws {
        let (cluster, pool, primary) = try await makePooledCluster()
        let sessions = makeSessions(cluster, pool)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, session) in sessions.enumerated() {
                group.addTask {
                    var checker = SessionChecker(client: session, key: "pool-\(index)")
                    for round in 0..<30 { try await checker.step(round) }
                }
            }
            try await group.waitForAll()
        }

        // One connection from the pool reached the primary (plus the one asking it now),
        // where 50 sessions of their own would have opened 50.
        let connections = try await openConnections(at: primary, group: cluster.group)
        XCTAssertLessThanOrEqual(connections, 2, "the primary sees more connections than the pool's one")
        XCTAssertNotNil(pool.currentConnection(to: primary))
    }

    func testSessionsBeyondTheInFlightBoundWaitForASlot() async throws {
        let (cluster, pool, _) = try await makePooledCluster(maxInFlight: 3)
        let sessions = makeSessions(cluster, pool)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, session) in sessions.enumerated() {
                group.addTask {
                    var checker = SessionChecker(client: session, key: "bound-\(index)")
                    for round in 0..<9 { try await checker.step(round) }
                }
            }
            try await group.waitForAll()
        }
    }

    func testKilledPooledConnectionFailsOnlyItsRequestsAndSessionsComplete() async throws {
        let (cluster, pool, primary) = try await makePooledCluster()
        let sessions = makeSessions(cluster, pool)
        let warmedUp = Locked(0)
        let completed = Locked(0)
        let released = Locked(false)
        let run = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, session) in sessions.enumerated() {
                    group.addTask {
                        var checker = SessionChecker(client: session, key: "kill-\(index)")
                        for round in 0..<10 { try await checker.step(round) }
                        warmedUp.update { $0 += 1 }
                        // Keep requests in flight until the test has killed the connection
                        // and seen the pool reconnect (bounded, in case it never does).
                        var round = 10
                        while !released.get() && round < 100_000 {
                            try await checker.step(round)
                            completed.update { $0 += 1 }
                            round += 1
                        }
                        for extra in 0..<10 { try await checker.step(round + extra) }
                    }
                }
                try await group.waitForAll()
            }
        }
        defer { released.set(true) }

        try await waitUntil("every session is running on the pool", timeout: 30) { warmedUp.get() == sessionCount }
        let monitorConnection = pool.currentConnection(to: cluster.monitorAddress)
        guard let killed = pool.currentConnection(to: primary) else {
            return XCTFail("the pool has no connection to the primary")
        }
        try await killed.channel.close()
        let completedAtKill = completed.get()
        try await waitUntil("the pool reconnects and the sessions make progress", timeout: 30) {
            guard let current = pool.currentConnection(to: primary), current !== killed, current.isActive else {
                return false
            }
            return completed.get() >= completedAtKill + sessionCount
        }
        released.set(true)
        try await run.value

        XCTAssertTrue(
            pool.currentConnection(to: cluster.monitorAddress) === monitorConnection,
            "closing the primary's connection must not disturb the pooled connection to the monitor")
        XCTAssertFalse(killed.isActive)
    }

    // MARK: - Helpers

    private func makePooledCluster(maxInFlight: Int = 4096) async throws -> (TestCluster, KVConnectionPool, String) {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: s2)
        let pool = KVConnectionPool(group: cluster.group, maxInFlight: maxInFlight)
        addTeardownBlock { pool.close() }
        return (cluster, pool, await cluster.address(s1))
    }

    private func makeSessions(_ cluster: TestCluster, _ pool: KVConnectionPool) -> [KVClient] {
        (0..<sessionCount).map { _ in
            var configuration = KVClient.Configuration(monitor: cluster.monitorAddress)
            configuration.retryInterval = TestCluster.pingInterval
            configuration.connectionPool = pool
            return KVClient(configuration: configuration, group: cluster.group)
        }
    }

    /// The server's own count of open client connections, asked over a connection of
    /// its own (counted too).
    private func openConnections(at address: String, group: any EventLoopGroup) async throws -> UInt32 {
        let connection = try await KVConnection.connect(to: address, group: group).get()
        defer { connection.close() }
        let reply = try await connection.request(.serverInfo, timeout: .seconds(5)).get()
        guard case .serverInfoReply(let stats) = reply else { throw TestSetupError("unexpected reply \(reply)") }
        return stats.connections
    }
}

/// One session's operations on its own key, each checked against what the session
/// wrote last: a put, then a get that must read it, then a puthash whose previous value
/// must be it (so a puthash applied twice after a retry would show).
private struct SessionChecker {
    struct Mismatch: Error, CustomStringConvertible {
        var description: String
    }

    let client: KVClient
    let key: String
    var last: String?

    init(client: KVClient, key: String) {
        self.client = client
        self.key = key
    }

    mutating func step(_ round: Int) async throws {
        switch round % 3 {
        case 0:
            let value = "\(key)-\(round)"
            try await client.put(key, value, within: 20)
            last = value
        case 1:
            let value = try await client.get(key, within: 20)
            guard value == last else {
                throw Mismatch(description: "\(key): read \(value ?? "nil"), wrote \(last ?? "nil")")
            }
        default:
            let argument = "\(round)"
            let previous = try await client.putHash(key, argument, within: 20)
            guard previous == last ?? "" else {
                throw Mismatch(description: "\(key): puthash saw \(previous), wrote \(last ?? "nil")")
            }
            last = ReferenceHash.putHash(previous: previous, argument: argument)
        }
    }
}
