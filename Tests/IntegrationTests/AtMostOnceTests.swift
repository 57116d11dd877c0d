import KVClient
import XCTest

/// The original TestAtMostOnce: PutHash through servers that drop about 10% of requests
/// and the replies of about 18% more. Each PutHash must be applied exactly once, so the
/// previous values it returns and the final value follow the chain computed here with an
/// independent FNV-1a.
final class AtMostOnceTests: ClusterTestCase {
    func testPutHashAtMostOnceWithUnreliableServers() async throws {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: s2)
        await cluster.setUnreliable(s1, true)
        await cluster.setUnreliable(s2, true)

        let client = await cluster.makeClient()
        let key = "a"
        var value = ""
        for i in 0..<100 {
            let argument = String(i)
            let previous = try await client.putHash(key, argument, within: 20)
            XCTAssertEqual(previous, value, "PutHash #\(i) returned a wrong previous value: applied twice or lost")
            if previous != value { return }
            value = ReferenceHash.putHash(previous: value, argument: argument)
        }
        try await check(client, key, value)

        // The backup agrees (it holds every update exactly once as well).
        await cluster.setUnreliable(s1, false)
        await cluster.setUnreliable(s2, false)
        try await waitUntil("the backup holds the final value") {
            await cluster.status(s2)?.store[bytes(key)] == bytes(value)
        }
        await cluster.kill(s1)
        try await cluster.waitForView(primary: s2, backup: nil)
        try await check(client, key, value)
    }
}
