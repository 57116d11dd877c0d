import Foundation
import KVClient
import KVProtocol
import KVTestSupport
import NIOCore
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A kvservice cluster with a highly available control plane, all real processes: a
/// 3-member etcd cluster, kv-monitor processes sharing one view in it, and kv-server
/// processes naming every monitor. With `etcdViaProxies`, each monitor reaches every etcd
/// member through a `ByteProxy` of its own, so that a test can cut one monitor off from
/// etcd alone (a proxy accepts even when its member is down, which a monitor cannot tell
/// from a request lost on the way: the other tests go straight to etcd, where a dead
/// member refuses connections as in production).
final class ControlPlaneCluster: @unchecked Sendable {
    /// Short, so that failovers fit a test: etcd's shortest lease.
    static let defaultLeaderTTL = 2

    /// The monitors' `--leader-ttl`, in seconds.
    let leaderTTL: Int

    let scratch: TestScratch
    let etcd: EtcdCluster
    /// The cluster's name in etcd: each test keeps to keys of its own.
    let name: String
    let monitorPorts: [Int]
    let serverPorts: [Int]
    private let lock = NSLock()
    private var monitors: [Child?]
    /// Every monitor process ever started, with its index: their logs are the record of
    /// every view handed out.
    private var monitorHistory: [(index: Int, child: Child)] = []
    private var servers: [Child?]
    /// For each monitor, one proxy per etcd member.
    private var etcdProxies: [[ByteProxy]] = []

    private init(
        scratch: TestScratch, etcd: EtcdCluster, name: String, monitorPorts: [Int], serverPorts: [Int], leaderTTL: Int
    ) {
        self.scratch = scratch
        self.leaderTTL = leaderTTL
        self.etcd = etcd
        self.name = name
        self.monitorPorts = monitorPorts
        self.serverPorts = serverPorts
        monitors = Array(repeating: nil, count: monitorPorts.count)
        servers = Array(repeating: nil, count: serverPorts.count)
    }

    /// Ports for `monitors` monitors and `servers` servers; nothing started yet.
    static func make(
        scratch: TestScratch, etcd: EtcdCluster, name: String, monitors: Int = 3, servers: Int = 3,
        etcdViaProxies: Bool = false, leaderTTL: Int = defaultLeaderTTL
    ) async throws -> ControlPlaneCluster {
        var taken = Set<Int>()
        func port() throws -> Int {
            let port = try Loopback.freePortBelowEphemeralRange(avoiding: taken)
            taken.insert(port)
            return port
        }
        let cluster = ControlPlaneCluster(
            scratch: scratch, etcd: etcd, name: name, monitorPorts: try (0..<monitors).map { _ in try port() },
            serverPorts: try (0..<servers).map { _ in try port() }, leaderTTL: leaderTTL)
        for _ in 0..<monitors where etcdViaProxies {
            var proxies: [ByteProxy] = []
            for port in etcd.clientPorts {
                proxies.append(try await ByteProxy.start(targetPort: port, group: Shared.group))
            }
            cluster.etcdProxies.append(proxies)
        }
        return cluster
    }

    var monitorAddresses: [String] { monitorPorts.map { "127.0.0.1:\($0)" } }
    var monitorList: String { monitorAddresses.joined(separator: ",") }
    func serverAddress(_ index: Int) -> String { "127.0.0.1:\(serverPorts[index])" }
    func serverIndex(of address: String) -> Int? { serverPorts.firstIndex { "127.0.0.1:\($0)" == address } }

    // MARK: - Processes

    /// Starts monitor `index` sharing the view in etcd (with `stateDirectory`, it may
    /// import the view file found there); in TLS, with the etcd cluster's CA and client
    /// certificate, when the etcd cluster was started with `tls: true`.
    func startMonitor(_ index: Int, stateDirectory: String? = nil) throws {
        let endpoints =
            etcdProxies.isEmpty
            ? etcd.endpoints.joined(separator: ",")
            : etcdProxies[index].map { "\(etcd.tls == nil ? "http" : "https")://127.0.0.1:\($0.port)" }
                .joined(separator: ",")
        var arguments = [
            "--listen", monitorAddresses[index], "--etcd-endpoints", endpoints, "--cluster", name,
            "--leader-ttl", "\(leaderTTL)s", "--log-target", "stderr",
        ]
        if let tls = etcd.tls {
            // The etcd members serve TLS only and require a client certificate.
            arguments += [
                "--etcd-cacert", tls.ca, "--etcd-cert", tls.client.certificate, "--etcd-key", tls.client.privateKey,
            ]
        }
        if let stateDirectory { arguments += ["--state-dir", stateDirectory] }
        let child = try scratch.spawn("monitor\(index)", Binaries.monitor, arguments, diesWithTests: true)
        lock.withLock {
            monitors[index] = child
            monitorHistory.append((index, child))
        }
    }

    /// Starts a single monitor on monitor `index`'s port, keeping its view in
    /// `stateDirectory` (no etcd): the cluster before a migration.
    func startSoleMonitor(_ index: Int, stateDirectory: String) throws {
        let child = try scratch.spawn(
            "sole-monitor\(index)", Binaries.monitor,
            ["--listen", monitorAddresses[index], "--state-dir", stateDirectory, "--log-target", "stderr"],
            diesWithTests: true)
        lock.withLock { monitors[index] = child }
    }

    func startServer(_ index: Int) throws {
        let child = try scratch.spawn(
            "server\(index)", Binaries.server,
            ["--listen", serverAddress(index), "--monitor", monitorList, "--log-target", "stderr"],
            diesWithTests: true)
        lock.withLock { servers[index] = child }
    }

    /// `kill -9` of monitor `index`: no lease revoked, nothing said to anyone.
    func killMonitor(_ index: Int) async {
        let child = lock.withLock { monitors[index] }
        await child?.killAndReap()
    }

    /// SIGTERM, and waits for the exit.
    func stopMonitor(_ index: Int) async throws {
        let child = lock.withLock { monitors[index] }
        child?.signal(SIGTERM)
        try await child?.waitForExit(within: 15)
    }

    func killServer(_ index: Int) async {
        let child = lock.withLock { servers[index] }
        await child?.killAndReap()
    }

    /// Makes monitor `index`'s way to etcd a black hole, or restores it.
    func cutFromEtcd(_ index: Int, _ cut: Bool = true) {
        precondition(!etcdProxies.isEmpty, "a cluster made with etcdViaProxies")
        for proxy in etcdProxies[index] { cut ? proxy.cut() : proxy.restore() }
    }

    func stopAll() async {
        let children = lock.withLock { monitors + servers }
        for child in children { await child?.killAndReap() }
        for proxies in etcdProxies { for proxy in proxies { await proxy.stop() } }
    }

    // MARK: - Asking

    func makeClient() -> KVClient {
        var configuration = KVClient.Configuration(monitors: monitorAddresses)
        configuration.attemptTimeout = .milliseconds(500)
        return KVClient(configuration: configuration)
    }

    /// What monitor `index` says of itself, or nil when it does not answer.
    func status(_ index: Int, client: KVClient) async -> MonitorStatus? {
        guard
            case .monitorInfoReply(let status)? = try? await client.ask(
                monitor: monitorAddresses[index], .monitorInfo, timeout: .milliseconds(500))
        else { return nil }
        return status
    }

    func statuses(client: KVClient) async -> [MonitorStatus?] {
        await withTaskGroup(of: (Int, MonitorStatus?).self) { group in
            for index in monitorPorts.indices {
                group.addTask { (index, await self.status(index, client: client)) }
            }
            var result = [MonitorStatus?](repeating: nil, count: monitorPorts.count)
            for await (index, status) in group { result[index] = status }
            return result
        }
    }

    /// The one monitor that says it leads; nil when none or several do.
    func leader(client: KVClient) async -> Int? {
        let leading = await statuses(client: client).enumerated().filter { $0.element?.role == .leader }
        return leading.count == 1 ? leading[0].offset : nil
    }

    @discardableResult
    func waitForLeader(
        client: KVClient, within seconds: Double = 15, where accept: @escaping @Sendable (Int) -> Bool = { _ in true }
    ) async throws -> Int {
        var found: Int?
        try await waitUntil("a monitor leads", timeout: seconds) {
            found = await self.leader(client: client)
            return found.map(accept) ?? false
        }
        return found!
    }

    /// Waits until the view names a primary and a backup, acknowledged; returns it.
    @discardableResult
    func waitForSynchronisedView(
        client: KVClient, within seconds: Double = 20, where accept: @escaping @Sendable (View) -> Bool = { _ in true }
    ) async throws -> View {
        var view = View.initial
        try await waitUntil("the view has an acknowledged primary and backup", timeout: seconds) {
            guard let answered = try? await client.view(deadline: NIODeadline.now() + .seconds(1)) else {
                return false
            }
            view = answered
            return answered.acked && !answered.primary.isEmpty && !answered.backup.isEmpty && accept(answered)
        }
        return view
    }

    // MARK: - Records

    /// Every view any monitor made (its `view-change` log records), as (viewnum,
    /// primary, backup, monitor): what followers serve is what leaders wrote, so these
    /// are every view ever handed out.
    func viewRecords() -> [(viewnum: UInt64, primary: String, backup: String, monitor: Int)] {
        let history = lock.withLock { monitorHistory }
        var records: [(UInt64, String, String, Int)] = []
        for (index, child) in history {
            for line in child.stderr.split(separator: "\n") where line.contains("kv_event=view-change") {
                var fields: [String: String] = [:]
                for token in line.split(separator: " ") {
                    let parts = token.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
                }
                guard let viewnum = fields["kv_viewnum"].flatMap({ UInt64($0) }), let primary = fields["kv_primary"],
                    let backup = fields["kv_backup"]
                else { continue }
                records.append((viewnum, primary, backup, index))
            }
        }
        return records
    }

    /// Fails the test if two monitors ever made different views under one number.
    func checkOneViewPerNumber(file: StaticString = #filePath, line: UInt = #line) {
        var seen: [UInt64: (String, String, Int)] = [:]
        for record in viewRecords() {
            if let earlier = seen[record.viewnum] {
                XCTAssertTrue(
                    earlier.0 == record.primary && earlier.1 == record.backup,
                    "view \(record.viewnum) made twice: \(earlier.0),\(earlier.1) by monitor \(earlier.2) and "
                        + "\(record.primary),\(record.backup) by monitor \(record.monitor)", file: file, line: line)
            } else {
                seen[record.viewnum] = (record.primary, record.backup, record.monitor)
            }
        }
    }

    /// Everything the monitors logged, for a failure's message.
    func monitorLogs() -> String {
        let history = lock.withLock { monitorHistory }
        return history.map { "--- monitor \($0.index)\n" + $0.child.stderr }.joined(separator: "\n")
    }
}
