import Foundation
import KVTestSupport
import XCTest

/// A kv-monitor and two kv-server processes with `--resp-listen`, for the real Redis
/// clients' tests: the first server is a primary with a synchronised backup.
struct RESPProcessCluster {
    var monitor: String
    /// The Redis-protocol ports of the two servers, primary first.
    var primaryRESP: Int
    var backupRESP: Int
    /// The primary's kvservice address.
    var primary: String
    var primaryProcess: Child
}

extension XCTestCase {
    func startRESPProcessCluster(_ scratch: TestScratch) async throws -> RESPProcessCluster {
        let monitor = "127.0.0.1:\(try Loopback.freePort())"
        let monitorChild = try scratch.spawn(
            "kv-monitor", Binaries.monitor, ["--listen", monitor, "--log-target", "stderr"])
        var servers: [(address: String, resp: Int, child: Child)] = []
        for index in 0..<2 {
            let address = "127.0.0.1:\(try Loopback.freePort())"
            let resp = try Loopback.freePort()
            let child = try scratch.spawn(
                "kv-server", Binaries.server,
                [
                    "--listen", address, "--monitor", monitor, "--resp-listen", "127.0.0.1:\(resp)", "--log-target",
                    "stderr",
                ])
            servers.append((address, resp, child))
            // The first one becomes primary: wait for it before starting the second.
            if index == 0 {
                try await waitUntil(
                    "kvctl wait --ready succeeds", timeout: 20, interval: 0.05, detail: { monitorChild.outputSummary }
                ) {
                    try await scratch.kvctl(["wait", "--ready", "--monitor", monitor, "--timeout", "2"]).status == 0
                }
            }
        }
        try await waitUntil(
            "kvctl status says healthy (a synchronised pair)", timeout: 20, interval: 0.05,
            detail: { monitorChild.outputSummary }
        ) {
            try await scratch.kvctl(["status", "--monitor", monitor, "--timeout", "2"]).status == 0
        }
        return RESPProcessCluster(
            monitor: monitor, primaryRESP: servers[0].resp, backupRESP: servers[1].resp, primary: servers[0].address,
            primaryProcess: servers[0].child)
    }
}
