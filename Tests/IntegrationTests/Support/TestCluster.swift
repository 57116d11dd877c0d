import Foundation
import KVClient
import KVProtocol
import KVServices
import KVTransport
import Logging
import NIOCore
import NIOPosix
import XCTest

/// A monitor and any number of servers, in this process, on real TCP sockets on
/// 127.0.0.1, with the original course's timing (ping every 100 ms, dead after 5 missed
/// pings). Servers are numbered from 0 in the order they were added; each keeps its
/// address (and its fault injector) across kills and restarts, so a restarted server
/// comes back under the same name, empty, as after a real crash.
actor TestCluster {
    static let pingInterval: TimeAmount = .milliseconds(100)
    static let deadPings: UInt64 = 5
    /// The original's `DeadPings * PingInterval`.
    static let deadTime: Double = 0.5

    struct Server {
        var listenPort: Int
        /// The address the server pings with and clients use: its own port, or the port
        /// of a proxy in front of it.
        var advertise: String
        let faults: FaultInjector
        var node: ServerNode?
        var proxy: TCPProxy?
    }

    nonisolated let monitorAddress: String
    nonisolated let monitorPort: Int
    let stateDirectory: String?
    /// The shared secret of the monitor, the servers and the cluster's clients.
    let secret: SharedSecret?
    let group: any EventLoopGroup
    let logger: Logger
    private(set) var monitor: MonitorNode?
    private var servers: [Server] = []
    private var clients: [KVClient] = []
    private var stopped = false

    private init(
        monitor: MonitorNode, port: Int, stateDirectory: String?, secret: SharedSecret?, group: any EventLoopGroup,
        logger: Logger
    ) {
        self.monitor = monitor
        self.monitorPort = port
        self.monitorAddress = "127.0.0.1:\(port)"
        self.stateDirectory = stateDirectory
        self.secret = secret
        self.group = group
        self.logger = logger
    }

    /// Starts the monitor on a free port. With `stateDirectory` its view is kept on disk.
    static func start(stateDirectory: String? = nil, secret: SharedSecret? = nil) async throws -> TestCluster {
        var configuration = MonitorNode.Configuration(
            listen: .bind(PeerAddress(host: "127.0.0.1", port: 0)), pingInterval: pingInterval,
            deadPings: deadPings, stateDirectory: stateDirectory)
        configuration.secret = secret
        let monitor = try await MonitorNode.start(
            configuration: configuration, group: Shared.group, logger: Shared.logger)
        guard let port = monitor.localAddress?.port else {
            await monitor.stop()
            throw TestSetupError("monitor has no local address")
        }
        return TestCluster(
            monitor: monitor, port: port, stateDirectory: stateDirectory, secret: secret, group: Shared.group,
            logger: Shared.logger)
    }

    // MARK: - Servers

    /// Starts a new server on a free port and returns its number. With `viaProxy` a
    /// delaying proxy is put in front of it and the server advertises the proxy's
    /// address, so everything that reaches it (clients, a primary forwarding to it) goes
    /// through the proxy.
    @discardableResult
    func addServer(
        unreliable: Bool = false, viaProxy: Bool = false, maxConnections: Int = FrameListener.defaultMaxConnections
    ) async throws -> Int {
        let faults = FaultInjector(seed: UInt64(servers.count + 1) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(monitorPort))
        faults.unreliable = unreliable
        var lastError: (any Error)?
        for _ in 0..<20 {
            let port = try await Self.freePort(group: group)
            var proxy: TCPProxy?
            var advertise = "127.0.0.1:\(port)"
            if viaProxy {
                proxy = try await TCPProxy.start(target: PeerAddress(host: "127.0.0.1", port: port), group: group)
                advertise = proxy!.address
            }
            do {
                let node = try await startNode(
                    listenPort: port, advertise: advertise, faults: faults, maxConnections: maxConnections)
                servers.append(Server(listenPort: port, advertise: advertise, faults: faults, node: node, proxy: proxy))
                return servers.count - 1
            } catch {
                // Someone else took the port between our probe and the bind: pick another.
                lastError = error
                await proxy?.stop()
            }
        }
        throw lastError ?? TestSetupError("no free port")
    }

    private func startNode(
        listenPort: Int, advertise: String, faults: FaultInjector,
        maxConnections: Int = FrameListener.defaultMaxConnections
    ) async throws -> ServerNode {
        var configuration = ServerNode.Configuration(
            listen: .bind(PeerAddress(host: "127.0.0.1", port: listenPort)), advertise: advertise,
            monitor: monitorAddress, pingInterval: Self.pingInterval)
        configuration.maxConnections = maxConnections
        configuration.secret = secret
        return try await ServerNode.start(configuration: configuration, group: group, logger: logger, faults: faults)
    }

    /// Crashes server `index`: listener and connections closed, state lost.
    func kill(_ index: Int) async {
        guard let node = servers[index].node else { return }
        servers[index].node = nil
        await node.crash()
    }

    /// Starts a new, empty server under the address of server `index` (killing it first
    /// if it runs). The port was just released, so a bind may briefly fail with
    /// EADDRINUSE: retried for a bounded time.
    func restart(_ index: Int) async throws {
        await kill(index)
        let server = servers[index]
        let deadline = Date().addingTimeInterval(5)
        while true {
            do {
                servers[index].node = try await startNode(
                    listenPort: server.listenPort, advertise: server.advertise, faults: server.faults)
                return
            } catch let error as IOError where error.errnoCode == EADDRINUSE && Date() < deadline {
                try await pause(0.05)
            }
        }
    }

    /// Stops server `index` as SIGTERM stops kv-server: it asks the monitor to hand its
    /// role over and waits (up to `leaveTimeout`) for a view without it, then finishes
    /// requests in flight and closes. Returns how the leave ended.
    @discardableResult
    func stopGracefully(_ index: Int, leaveTimeout: TimeAmount = .seconds(10)) async -> ServerNode.LeaveOutcome? {
        guard let node = servers[index].node else { return nil }
        let outcome = await node.leave(timeout: leaveTimeout)
        servers[index].node = nil
        await node.shutdown()
        return outcome
    }

    /// `stopGracefully`, then a new empty server under the same address (a
    /// `systemctl restart`).
    @discardableResult
    func restartGracefully(_ index: Int) async throws -> ServerNode.LeaveOutcome? {
        let outcome = await stopGracefully(index)
        try await restart(index)
        return outcome
    }

    func address(_ index: Int) -> String { servers[index].advertise }
    func faults(_ index: Int) -> FaultInjector { servers[index].faults }
    func proxy(_ index: Int) -> TCPProxy? { servers[index].proxy }
    func node(_ index: Int) -> ServerNode? { servers[index].node }
    func listenAddress(_ index: Int) -> String { "127.0.0.1:\(servers[index].listenPort)" }
    var serverCount: Int { servers.count }

    func index(of address: String) -> Int? {
        servers.firstIndex { $0.advertise == address }
    }

    /// Server `index`'s own view of itself; nil when it is not running.
    func status(_ index: Int) async -> NodeStatus? {
        await servers[index].node?.inspect {
            NodeStatus(
                view: $0.view, role: $0.role, serving: $0.isServing, backupSynchronized: $0.backupSynchronized,
                store: $0.store)
        }
    }

    func setUnreliable(_ index: Int, _ on: Bool) {
        servers[index].faults.unreliable = on
    }

    // MARK: - The monitor

    /// The monitor's current view (asked in-process, not over the network).
    func view() async -> View {
        await monitor?.view() ?? .initial
    }

    func primaryIndex() async -> Int? {
        let view = await view()
        return view.primary.isEmpty ? nil : index(of: view.primary)
    }

    func backupIndex() async -> Int? {
        let view = await view()
        return view.backup.isEmpty ? nil : index(of: view.backup)
    }

    /// Whether the monitor's view names `primary` and `backup` (nil: no backup), is
    /// acknowledged, and the primary serves that view with a backup holding the whole
    /// state: the cluster can take a failure of either.
    func isSettled(primary: Int, backup: Int?) async -> Bool {
        let view = await view()
        guard view.acked, view.primary == servers[primary].advertise,
            view.backup == (backup.map { servers[$0].advertise } ?? "")
        else { return false }
        guard let status = await status(primary) else { return false }
        return status.view.viewnum == view.viewnum && status.serving
            && (backup == nil || status.backupSynchronized)
    }

    /// Whether the current view has a primary and a backup, is acknowledged, and the
    /// primary has finished the backup's transfer.
    func hasSynchronizedPair() async -> Bool {
        guard let primary = await primaryIndex(), let backup = await backupIndex() else { return false }
        return await isSettled(primary: primary, backup: backup)
    }

    /// Waits until the view is exactly (primary, backup) and settled (see `isSettled`).
    @discardableResult
    func waitForView(
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
    func stopMonitor() async {
        await monitor?.stop()
        monitor = nil
    }

    /// Starts a new monitor on the same port and state directory.
    func restartMonitor() async throws {
        await stopMonitor()
        let deadline = Date().addingTimeInterval(5)
        while true {
            do {
                var configuration = MonitorNode.Configuration(
                    listen: .bind(PeerAddress(host: "127.0.0.1", port: monitorPort)),
                    pingInterval: Self.pingInterval, deadPings: Self.deadPings, stateDirectory: stateDirectory)
                configuration.secret = secret
                monitor = try await MonitorNode.start(configuration: configuration, group: group, logger: logger)
                return
            } catch let error as IOError where error.errnoCode == EADDRINUSE && Date() < deadline {
                try await pause(0.05)
            }
        }
    }

    // MARK: - Clients

    /// A new client session (one per concurrent worker: a session runs one operation at a
    /// time). Closed at teardown.
    func makeClient(attemptTimeout: TimeAmount = .seconds(1)) -> KVClient {
        var configuration = KVClient.Configuration(monitor: monitorAddress)
        configuration.retryInterval = Self.pingInterval
        configuration.attemptTimeout = attemptTimeout
        configuration.secret = secret
        let client = KVClient(configuration: configuration, group: group)
        clients.append(client)
        return client
    }

    // MARK: - Teardown

    /// Stops everything this cluster started. Safe to call more than once.
    func stopAll() async {
        guard !stopped else { return }
        stopped = true
        for client in clients { client.close() }
        clients.removeAll()
        for index in servers.indices {
            await kill(index)
            await servers[index].proxy?.stop()
        }
        await stopMonitor()
    }

    // MARK: - Ports

    /// A port that was free a moment ago: bound to port 0, read back and released. A
    /// listening socket that never accepted leaves no TIME_WAIT behind.
    static func freePort(group: any EventLoopGroup) async throws -> Int {
        let channel = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port
        try await channel.close()
        guard let port else { throw TestSetupError("could not probe a free port") }
        return port
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The common frame of the scenario tests: a cluster per test, always torn down.
class ClusterTestCase: XCTestCase {
    /// Starts a cluster that is stopped when the test ends, however it ends.
    func makeCluster(stateDirectory: String? = nil, secret: SharedSecret? = nil) async throws -> TestCluster {
        let cluster = try await TestCluster.start(stateDirectory: stateDirectory, secret: secret)
        addTeardownBlock { await cluster.stopAll() }
        return cluster
    }

    /// A fresh temporary directory, removed at teardown.
    func makeTemporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "kv-integration-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}

/// Client helpers with a deadline, so no call can hang a test.
extension KVClient {
    func get(_ key: String, within seconds: Double = 15) async throws -> String? {
        try await get(bytes(key), deadline: .now() + .milliseconds(Int64(seconds * 1000)))?.text
    }

    func put(_ key: String, _ value: String, within seconds: Double = 15) async throws {
        try await put(bytes(key), bytes(value), deadline: .now() + .milliseconds(Int64(seconds * 1000)))
    }

    func putHash(_ key: String, _ value: String, within seconds: Double = 15) async throws -> String {
        try await putHash(bytes(key), bytes(value), deadline: .now() + .milliseconds(Int64(seconds * 1000))).text
    }
}

/// Asserts that `key` reads `expected` through `client`.
func check(
    _ client: KVClient, _ key: String, _ expected: String?, file: StaticString = #filePath, line: UInt = #line
) async throws {
    let value = try await client.get(key)
    XCTAssertEqual(value, expected, "Get(\(key))", file: file, line: line)
}

/// A server's own view of itself, read through `ServerNode.inspect`.
struct NodeStatus: Sendable {
    var view: View
    var role: ServerInfo.Role
    var serving: Bool
    var backupSynchronized: Bool
    var store: [Bytes: Bytes]
    var keys: Int { store.count }
}
