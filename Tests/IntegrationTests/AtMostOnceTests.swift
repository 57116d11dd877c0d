import KVClient
import KVTestSupport
import XCTest

/// The original TestAtMostOnce: PutHash through servers behind unreliable proxies, which
/// drop about 10% of requests and the replies of about 18% more. Each PutHash must be
/// applied exactly once, so the previous values it returns and the final value follow the
/// chain computed here with an independent FNV-1a.
final class AtMostOnceTests: XCTestCase {
    func testPutHashAtMostOnceWithUnreliableServers() async throws {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer(viaProxy: true)
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer(viaProxy: true)
        try await cluster.waitForView(primary: s1, backup: s2)
        try await cluster.setUnreliable(s1, true)
        try await cluster.setUnreliable(s2, true)

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

        // The faults did happen: requests were lost before processing and replies after.
        let proxies = [try await cluster.proxy(s1), try await cluster.proxy(s2)]
        let requestsDropped = proxies.map { $0.framesDropped(.toTarget) }.reduce(0, +)
        let repliesDropped = proxies.map { $0.framesDropped(.toConnector) }.reduce(0, +)
        XCTAssertGreaterThan(requestsDropped, 0, "no request was dropped: the test did not test retries")
        XCTAssertGreaterThan(repliesDropped, 0, "no reply was dropped: the test did not test duplicates")

        // The backup agrees (it holds every update exactly once as well).
        try await cluster.setUnreliable(s1, false)
        try await cluster.setUnreliable(s2, false)
        try await waitUntil("the backup holds the final value") {
            await cluster.snapshot(s2)?.store.value(bytes(key)) == bytes(value)
        }
        await cluster.kill(s1)
        try await cluster.waitForView(primary: s2, backup: nil)
        try await check(client, key, value)
    }
}
