import KVClient
import KVProtocol
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

/// The original TestRepeatedCrash and TestRepeatedCrashUnreliable: three servers are
/// killed and restarted one at a time, over and over, while clients run put/get (or
/// PutHash/get) loops on their own keys; every answer must match what that client last
/// wrote. A final Put/Get after the storm must work.
final class RepeatedCrashTests: XCTestCase {
    func testRepeatedCrash() async throws {
        try await runRepeatedCrash(unreliable: false)
    }

    func testRepeatedCrashUnreliable() async throws {
        try await runRepeatedCrash(unreliable: true)
    }

    private func runRepeatedCrash(unreliable: Bool, duration: Double = 10) async throws {
        let cluster = try await makeCluster()
        var started: [Int] = []
        for _ in 0..<3 { started.append(try await cluster.addServer(unreliable: unreliable)) }
        let servers = started
        try await waitUntil("a primary and a synchronised backup", timeout: 15) {
            await cluster.hasSynchronizedPair()
        }

        let stop = Locked(false)
        let kills = Locked(0)
        let operations = Locked([Int](repeating: 0, count: 3))

        try await withThrowingTaskGroup(of: Void.self) { group in
            // The killer: one server at a time, and only once the cluster can take it (a
            // primary with a synchronised backup), which the original's pauses of two dead
            // intervals were meant to ensure.
            group.addTask {
                var rng = SplitMix64(seed: unreliable ? 0xC0FFEE : 0xBEEF)
                while !stop.get() {
                    try await waitUntil("a primary and a synchronised backup before the next kill", timeout: 20) {
                        await cluster.hasSynchronizedPair()
                    }
                    // Then let the clients work a while, as the original's pauses did
                    // (pacing the workload; the condition above is what makes it safe).
                    try await pause(0.5 + Double(rng.next() % 500) / 1000)
                    if stop.get() { break }
                    let victim = servers[Int(rng.next() % UInt64(servers.count))]
                    let address = await cluster.address(victim)
                    await cluster.kill(victim)
                    kills.update { $0 += 1 }
                    try await waitUntil("the monitor drops the killed server from the view", timeout: 10) {
                        let view = await cluster.view()
                        return view.primary != address && view.backup != address
                    }
                    try await pause(Double(rng.next() % 300) / 1000)
                    try await cluster.restart(victim)
                }
            }
            for worker in 0..<3 {
                let client = await cluster.makeClient()
                group.addTask {
                    let key = "key-\(worker)"
                    var last = ""
                    var n = 0
                    while !stop.get() {
                        let argument = "\(worker):\(n)"
                        if unreliable {
                            let previous = try await client.putHash(key, argument, within: 30)
                            XCTAssertEqual(previous, last, "PutHash(\(key)) #\(n): wrong previous value")
                            guard previous == last else { throw TestSetupError("wrong previous value") }
                            last = ReferenceHash.putHash(previous: last, argument: argument)
                        } else {
                            try await client.put(key, argument, within: 30)
                            last = argument
                        }
                        let value = try await client.get(key, within: 30)
                        XCTAssertEqual(value, last, "Get(\(key)) #\(n) after the client's own write")
                        guard value == last else { throw TestSetupError("stale or lost value") }
                        n += 1
                        operations.update { $0[worker] += 1 }
                        try await pause(0.01)
                    }
                }
            }
            // Run for `duration`, and on (up to a hard cap) until there were enough crashes
            // and every client made progress: a loaded machine slows both, and a fixed
            // clock would turn slowness into a failure.
            group.addTask {
                try await pause(duration)
                let deadline = NIODeadline.now() + .seconds(30)
                while kills.get() < 3 || operations.get().contains(where: { $0 <= 5 }),
                    NIODeadline.now() < deadline
                {
                    try await pause(0.1)
                }
                stop.set(true)
            }
            // The first failure ends the test at once: leaving the group by a throw cancels
            // the other tasks (waitForAll would wait for all of them first).
            do {
                for try await _ in group {}
            } catch {
                stop.set(true)
                throw error
            }
        }

        print("repeated crash (unreliable: \(unreliable)): \(kills.get()) kills, rounds per client \(operations.get())")
        XCTAssertGreaterThanOrEqual(kills.get(), 3, "too few crashes to mean anything")
        for (worker, count) in operations.get().enumerated() {
            XCTAssertGreaterThan(count, 5, "worker \(worker) made too little progress")
        }

        // Everyone is back; a last Put/Get through a new client.
        for server in servers where await cluster.node(server) == nil { try await cluster.restart(server) }
        let client = await cluster.makeClient()
        try await client.put("aaa", "bbb", within: 30)
        try await check(client, "aaa", "bbb")
    }
}
