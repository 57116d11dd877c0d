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
    /// The backup's kvservice address.
    var backup: String
    var backupProcess: Child
    var monitorProcess: Child
}

extension XCTestCase {
    /// `monitorArguments` are added to kv-monitor's, `serverArguments(index)` to each
    /// kv-server's (index 0: the primary), and `kvctlEnvironment` to the kvctl runs that
    /// wait for the cluster (TLS flags and `KV_TLS_*`, say).
    func startRESPProcessCluster(
        _ scratch: TestScratch, monitorArguments: [String] = [], serverArguments: (Int) -> [String] = { _ in [] },
        kvctlEnvironment: [String: String] = [:]
    ) async throws -> RESPProcessCluster {
        let monitor = "127.0.0.1:\(try Loopback.freePort())"
        let monitorChild = try scratch.spawn(
            "kv-monitor", Binaries.monitor, ["--listen", monitor, "--log-target", "stderr"] + monitorArguments)
        var servers: [(address: String, resp: Int, child: Child)] = []
        for index in 0..<2 {
            let address = "127.0.0.1:\(try Loopback.freePort())"
            let resp = try Loopback.freePort()
            let child = try scratch.spawn(
                "kv-server", Binaries.server,
                [
                    "--listen", address, "--monitor", monitor, "--resp-listen", "127.0.0.1:\(resp)", "--log-target",
                    "stderr",
                ] + serverArguments(index))
            servers.append((address, resp, child))
            // The first one becomes primary: wait for it before starting the second.
            if index == 0 {
                try await waitUntil(
                    "kvctl wait --ready succeeds", timeout: 20, interval: 0.05,
                    detail: { monitorChild.outputSummary + child.outputSummary }
                ) {
                    try await scratch.kvctl(
                        ["wait", "--ready", "--monitor", monitor, "--timeout", "2"], environment: kvctlEnvironment
                    ).status == 0
                }
            }
        }
        let backupChild = servers[1].child
        try await waitUntil(
            "kvctl status says healthy (a synchronised pair)", timeout: 20, interval: 0.05,
            detail: { monitorChild.outputSummary + backupChild.outputSummary }
        ) {
            try await scratch.kvctl(["status", "--monitor", monitor, "--timeout", "2"], environment: kvctlEnvironment)
                .status == 0
        }
        return RESPProcessCluster(
            monitor: monitor, primaryRESP: servers[0].resp, backupRESP: servers[1].resp, primary: servers[0].address,
            primaryProcess: servers[0].child, backup: servers[1].address, backupProcess: servers[1].child,
            monitorProcess: monitorChild)
    }
}
