import Foundation
import KVClient
import KVMetrics
import KVProtocol
import KVServices
import KVTransport
import Logging
import NIOCore
import ServerCore
import XCTest

/// A monitor and any number of servers, in this process, on real TCP sockets on
/// 127.0.0.1, with the original course's timing (ping every 100 ms, dead after 5 missed
/// pings), and the clients of a test. Servers are numbered from 0 in the order they were
/// added; each keeps its address and its proxies across kills and restarts, so a
/// restarted server comes back under the same name, empty, as after a real crash.
///
/// The faults of the original course's tests are proxies (see `TCPProxy`): a server
/// added `viaProxy` advertises the address of a proxy in front of it, so everything that
/// reaches it (clients, a primary forwarding to it) goes through the proxy, which can
/// delay, hold or drop frames; a server added with `monitorProxy` reaches the monitor
/// through a proxy of its own, which can cut it off from the monitor alone.
package actor TestCluster {
    package static let pingInterval: TimeAmount = .milliseconds(100)
    package static let deadPings: UInt64 = 5

    private struct Server {
        var listenPort: Int
        /// The address the server pings with and clients use: its own port, or the port
        /// of the proxy in front of it.
        var advertise: String
        var proxy: TCPProxy?
        /// The server's own way to the monitor, if it has one.
        var monitorProxy: TCPProxy?
        /// The monitors it pings, when not the cluster's alone (or its monitor proxy).
        var monitors: [String]?
        var maxConnections: Int
        var metrics: ServerMetrics?
        /// Its data directory, kept across restarts; nil: memory only.
        var dataDirectory: String?
        var fsync: FsyncPolicy
        var compactionMinimumBytes: Int
        /// Its read lease (`--read-lease`), in nanoseconds.
        var readLease: UInt64
        /// Its I/O loops (`ServerNode.Configuration.ioLoops`).
        var ioLoops: [any EventLoop] = []
        var node: ServerNode?
    }

    package nonisolated let monitorAddress: String
    package nonisolated let monitorPort: Int
    package let stateDirectory: String?
    /// The shared secret of the monitor, the servers and the cluster's clients.
    package let secret: SharedSecret?
    private let monitorMetrics: MonitorMetrics?
    package nonisolated let group: any EventLoopGroup = Shared.group
    package nonisolated let logger: Logger = Shared.logger
    package private(set) var monitor: MonitorNode?
    private var servers: [Server] = []
    private var clients: [KVClient] = []
    private var stopped = false

    private init(
        monitor: MonitorNode, port: Int, stateDirectory: String?, secret: SharedSecret?,
        monitorMetrics: MonitorMetrics?
    ) {
        self.monitor = monitor
        self.monitorPort = port
        self.monitorAddress = "127.0.0.1:\(port)"
        self.stateDirectory = stateDirectory
        self.secret = secret
        self.monitorMetrics = monitorMetrics
    }

    /// Starts the monitor on a free port. With `stateDirectory` its view is kept on disk.
    /// Prefer `XCTestCase.makeCluster`, which also stops everything when the test ends.
    package static func start(
        stateDirectory: String? = nil, secret: SharedSecret? = nil, metrics: MonitorMetrics? = nil
    ) async throws -> TestCluster {
        let monitor = try await startMonitor(
            port: 0, stateDirectory: stateDirectory, secret: secret, metrics: metrics)
        guard let port = monitor.localAddress?.port else {
            await monitor.stop()
            throw TestSetupError("monitor has no local address")
        }
        return TestCluster(
            monitor: monitor, port: port, stateDirectory: stateDirectory, secret: secret, monitorMetrics: metrics)
    }

    private static func startMonitor(
        port: Int, stateDirectory: String?, secret: SharedSecret?, metrics: MonitorMetrics?
    ) async throws -> MonitorNode {
        var configuration = MonitorNode.Configuration(
            listen: .bind(PeerAddress(host: "127.0.0.1", port: port)), pingInterval: pingInterval,
            deadPings: deadPings, stateDirectory: stateDirectory, metrics: metrics)
        configuration.secret = secret
        return try await MonitorNode.start(configuration: configuration, group: Shared.group, logger: Shared.logger)
    }

    // MARK: - Servers

    /// Starts a new server on a free port and returns its number.
    ///
    /// - Parameters:
    ///   - viaProxy: put a proxy in front of the server and make it advertise the proxy's
    ///     address (`proxy(_:)`).
    ///   - unreliable: the same, with the proxy unreliable from the start; `setUnreliable`
    ///     switches it later.
    ///   - monitorProxy: give the server a proxy of its own in front of the monitor
    ///     (`monitorProxy(_:)`), which can cut it off from the monitor while everyone else
    ///     still reaches it.
    ///   - monitors: the monitors the server pings, in this order, instead of the
    ///     cluster's alone (several monitors: docs/DESIGN.md §4.3).
    ///   - metrics: where the server records its metrics.
    ///   - dataDirectory: where it keeps its log (kept across `restart`); nil: memory only.
    ///   - ioLoops: loops of its own for in-process front ends (`kv-server --io-threads`).
    @discardableResult
    package func addServer(
        viaProxy: Bool = false, unreliable: Bool = false, monitorProxy: Bool = false, monitors: [String]? = nil,
        maxConnections: Int = FrameListener.defaultMaxConnections, metrics: ServerMetrics? = nil,
        dataDirectory: String? = nil, fsync: FsyncPolicy = .always,
        compactionMinimumBytes: Int = DiskLog.compactionMinimumBytes,
        readLease: UInt64 = ServerNode.Configuration.defaultReadLease, ioLoops: [any EventLoop] = []
    ) async throws -> Int {
        // A seed of its own for each server, different in each cluster (the monitor's port).
        let seed = UInt64(servers.count + 1) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(monitorPort)
        var toMonitor: TCPProxy?
        if monitorProxy {
            toMonitor = try await TCPProxy.start(
                target: PeerAddress(host: "127.0.0.1", port: monitorPort), group: group, seed: ~seed)
        }
        var lastError: (any Error)?
        for _ in 0..<20 {
            let port = try Loopback.freePort()
            var server = Server(
                listenPort: port, advertise: "127.0.0.1:\(port)", proxy: nil, monitorProxy: toMonitor,
                monitors: monitors, maxConnections: maxConnections, metrics: metrics, dataDirectory: dataDirectory,
                fsync: fsync, compactionMinimumBytes: compactionMinimumBytes, readLease: readLease, ioLoops: ioLoops)
            if viaProxy || unreliable {
                let proxy = try await TCPProxy.start(
                    target: PeerAddress(host: "127.0.0.1", port: port), group: group, seed: seed)
                proxy.unreliable = unreliable
                server.proxy = proxy
                server.advertise = proxy.address
            }
            do {
                server.node = try await startNode(server)
                servers.append(server)
                return servers.count - 1
            } catch {
                // Someone else took the port between the probe and the bind: pick another.
                lastError = error
                await server.proxy?.stop()
            }
        }
        await toMonitor?.stop()
        throw lastError ?? TestSetupError("no free port")
    }

    private func startNode(_ server: Server) async throws -> ServerNode {
        var configuration = ServerNode.Configuration(
            listen: .bind(PeerAddress(host: "127.0.0.1", port: server.listenPort)), advertise: server.advertise,
            monitors: server.monitors ?? [server.monitorProxy?.address ?? monitorAddress],
            pingInterval: Self.pingInterval,
            metrics: server.metrics)
        configuration.maxConnections = server.maxConnections
        configuration.secret = secret
        configuration.dataDirectory = server.dataDirectory
        configuration.fsync = server.fsync
        configuration.compactionMinimumBytes = server.compactionMinimumBytes
        configuration.core.readLease = server.readLease
        configuration.ioLoops = server.ioLoops
        return try await ServerNode.start(configuration: configuration, group: group, logger: logger)
    }

    /// Crashes server `index`: listener and connections closed, state lost.
    package func kill(_ index: Int) async {
        guard let node = servers[index].node else { return }
        servers[index].node = nil
        await node.crash()
    }

    /// Starts a new server under the address of server `index` (killing it first if it
    /// runs): empty, or with what its data directory holds. The port was just released, so a bind may briefly fail with
    /// EADDRINUSE: retried for a bounded time.
    package func restart(_ index: Int) async throws {
        await kill(index)
        let server = servers[index]
        try await retryingWhileAddressInUse {
            servers[index].node = try await startNode(server)
        }
    }

    /// Every server and the monitor killed at once and started again, as a power cut of
    /// the host would (servers with data directories recover them); returns once a member
    /// is revived and the pair is synchronised again.
    package func restartEverythingAtOnce(
        timeout: Double = 15, file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        for index in servers.indices { await kill(index) }
        await stopMonitor()
        try await restartMonitor()
        for index in servers.indices { try await restart(index) }
        try await waitUntil(
            "a restarted member is revived and the pair is synchronised again", timeout: timeout, file: file, line: line
        ) { await hasSynchronizedPair() }
    }

    /// Stops server `index` as SIGTERM stops kv-server: it asks the monitor to hand its
    /// role over and waits (up to `leaveTimeout`) for a view without it, then finishes
    /// requests in flight and closes. Returns how the leave ended.
    @discardableResult
    package func stopGracefully(_ index: Int, leaveTimeout: TimeAmount = .seconds(10)) async -> ServerNode.LeaveOutcome?
    {
        guard let node = servers[index].node else { return nil }
        let outcome = await node.leave(timeout: leaveTimeout)
        servers[index].node = nil
        await node.shutdown()
        return outcome
    }

    /// `stopGracefully`, then a new empty server under the same address (a
    /// `systemctl restart`).
    @discardableResult
    package func restartGracefully(_ index: Int) async throws -> ServerNode.LeaveOutcome? {
        let outcome = await stopGracefully(index)
        try await restart(index)
        return outcome
    }

    package func address(_ index: Int) -> String { servers[index].advertise }

    /// The proxy in front of server `index`, which was added `viaProxy`.
    package func proxy(_ index: Int) throws -> TCPProxy {
        guard let proxy = servers[index].proxy else {
            throw TestSetupError("server \(index) has no proxy in front of it: add it viaProxy")
        }
        return proxy
    }

    /// Server `index`'s proxy in front of the monitor; it was added with `monitorProxy`.
    package func monitorProxy(_ index: Int) throws -> TCPProxy {
        guard let proxy = servers[index].monitorProxy else {
            throw TestSetupError("server \(index) reaches the monitor directly: add it with monitorProxy")
        }
        return proxy
    }

    package func node(_ index: Int) -> ServerNode? { servers[index].node }
    package func listenAddress(_ index: Int) -> String { "127.0.0.1:\(servers[index].listenPort)" }
    package var serverCount: Int { servers.count }

    package func index(of address: String) -> Int? {
        servers.firstIndex { $0.advertise == address }
    }

    /// Makes the proxy in front of server `index` drop frames (see `TCPProxy`), or stop.
    /// The server must have been added `viaProxy`.
    package func setUnreliable(_ index: Int, _ on: Bool) throws {
        try proxy(index).unreliable = on
    }

    /// Runs `body` on server `index`'s loop with read access to its core; nil when the
    /// server is not running.
    package func inspect<Value: Sendable>(
        _ index: Int, _ body: @escaping @Sendable (ServerCore) -> Value
    ) async -> Value? {
        await servers[index].node?.inspect(body)
    }

    /// Server `index`'s own view of itself; nil when it is not running.
    package func snapshot(_ index: Int) async -> ServerSnapshot? {
        await inspect(index) { ServerSnapshot($0) }
    }

    // MARK: - The monitor

    /// The monitor's current view (asked in-process, not over the network).
    /// The monitor's view as clients are told it: without its cluster id.
    package func view() async -> View {
        await monitor?.view().withoutCluster ?? .initial
    }

    package func primaryIndex() async -> Int? {
        let view = await view()
        return view.primary.isEmpty ? nil : index(of: view.primary)
    }

    package func backupIndex() async -> Int? {
        let view = await view()
        return view.backup.isEmpty ? nil : index(of: view.backup)
    }

    /// Whether the monitor's view names `primary` and `backup` (nil: no backup), is
    /// acknowledged, and the primary serves that view with a backup holding the whole
    /// state: the cluster can take a failure of either.
    package func isSettled(primary: Int, backup: Int?) async -> Bool {
        let view = await view()
        guard view.acked, view.primary == servers[primary].advertise,
            view.backup == (backup.map { servers[$0].advertise } ?? "")
        else { return false }
        guard let state = await snapshot(primary) else { return false }
        return state.view.viewnum == view.viewnum && state.serving && (backup == nil || state.backupSynchronized)
    }

    /// Whether the current view has a primary and a backup, is acknowledged, and the
    /// primary has finished the backup's transfer.
    package func hasSynchronizedPair() async -> Bool {
        guard let primary = await primaryIndex(), let backup = await backupIndex() else { return false }
        return await isSettled(primary: primary, backup: backup)
    }

    /// Waits until the view is exactly (primary, backup) and settled (see `isSettled`).
    @discardableResult
    package func waitForView(
        primary: Int, backup: Int?, timeout: Double = 10, file: StaticString = #filePath, line: UInt = #line
    ) async throws -> View {
        let p = servers[primary].advertise
        let b = backup.map { servers[$0].advertise } ?? "-"
        try await waitUntil(
            "the view is primary=\(p) backup=\(b), acknowledged and synchronised",
            timeout: timeout, detail: { "\(await self.view())" }, file: file, line: line
        ) {
            await isSettled(primary: primary, backup: backup)
        }
        return await view()
    }

    /// Stops the monitor (its view stays in the state directory, if any).
    package func stopMonitor() async {
        await monitor?.stop()
        monitor = nil
    }

    /// Starts a new monitor on the same port and state directory.
    package func restartMonitor() async throws {
        await stopMonitor()
        try await retryingWhileAddressInUse {
            monitor = try await Self.startMonitor(
                port: monitorPort, stateDirectory: stateDirectory, secret: secret, metrics: monitorMetrics)
        }
    }

    /// Runs `start` again while it fails with EADDRINUSE, for up to 5 s: a port just
    /// released may not be free again at once.
    private func retryingWhileAddressInUse(_ start: () async throws -> Void) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            do {
                return try await start()
            } catch let error as IOError where error.errnoCode == EADDRINUSE && ContinuousClock.now < deadline {
                try await pause(0.05)
            }
        }
    }

    // MARK: - Clients

    /// A new client session (one per concurrent worker: a session runs one operation at a
    /// time), with the cluster's timing and secret. Closed at teardown.
    /// `monitors`: the monitors it asks, in this order, instead of the cluster's alone.
    package func makeClient(attemptTimeout: TimeAmount = .seconds(1), monitors: [String]? = nil) -> KVClient {
        var configuration = KVClient.Configuration(monitors: monitors ?? [monitorAddress])
        configuration.retryInterval = Self.pingInterval
        configuration.attemptTimeout = attemptTimeout
        configuration.secret = secret
        let client = KVClient(configuration: configuration, group: group)
        clients.append(client)
        return client
    }

    // MARK: - Teardown

    /// Stops everything this cluster started. Safe to call more than once.
    package func stopAll() async {
        guard !stopped else { return }
        stopped = true
        for client in clients { client.close() }
        clients.removeAll()
        for index in servers.indices {
            await kill(index)
            await servers[index].proxy?.stop()
            await servers[index].monitorProxy?.stop()
        }
        await stopMonitor()
    }
}

/// What a server's core holds, copied on its loop: the fixture's own picture, for checks.
package struct ServerSnapshot: Sendable {
    package var view: View
    package var role: ServerInfo.Role
    package var serving: Bool
    package var backupSynchronized: Bool
    package var store: KeyValueStore
    package var counters: ServerCounters

    package var keys: Int { store.count }

    init(_ core: ServerCore) {
        view = core.view
        role = core.role
        serving = core.isServing
        backupSynchronized = core.backupSynchronized
        store = core.store
        counters = core.counters
    }
}

extension XCTestCase {
    /// Starts a cluster (a monitor; add servers to it) that is stopped when the test
    /// ends, however it ends.
    package func makeCluster(
        stateDirectory: String? = nil, secret: SharedSecret? = nil, metrics: MonitorMetrics? = nil
    ) async throws -> TestCluster {
        let cluster = try await TestCluster.start(stateDirectory: stateDirectory, secret: secret, metrics: metrics)
        addTeardownBlock { await cluster.stopAll() }
        return cluster
    }

    /// A cluster whose monitor keeps its view in `scratch/monitor`, in a scratch directory
    /// that also holds the servers' data directories (`scratch/s0`, ...): what a restart of
    /// everything needs to find again.
    package func makeDurableCluster() async throws -> (cluster: TestCluster, scratch: String) {
        let scratch = try makeScratch().directory
        try FileManager.default.createDirectory(atPath: scratch + "/monitor", withIntermediateDirectories: true)
        return (try await makeCluster(stateDirectory: scratch + "/monitor"), scratch)
    }
}

/// Client helpers with a deadline, so no call can hang a test.
extension KVClient {
    package func get(_ key: String, within seconds: Double = 15) async throws -> String? {
        try await get(bytes(key), deadline: .now() + .milliseconds(Int64(seconds * 1000)))?.text
    }

    package func put(_ key: String, _ value: String, within seconds: Double = 15) async throws {
        try await put(bytes(key), bytes(value), deadline: .now() + .milliseconds(Int64(seconds * 1000)))
    }

    package func putHash(_ key: String, _ value: String, within seconds: Double = 15) async throws -> String {
        try await putHash(bytes(key), bytes(value), deadline: .now() + .milliseconds(Int64(seconds * 1000))).text
    }
}

/// Asserts that `key` reads `expected` through `client`.
package func check(
    _ client: KVClient, _ key: String, _ expected: String?, file: StaticString = #filePath, line: UInt = #line
) async throws {
    let value = try await client.get(key)
    XCTAssertEqual(value, expected, "Get(\(key))", file: file, line: line)
}

extension Array where Element == UInt8 {
    /// The bytes as UTF-8 text (invalid sequences replaced).
    package var text: String { String(decoding: self, as: UTF8.self) }
}

/// The UTF-8 bytes of `text`.
package func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
