import KVEtcd
import KVMetrics
import KVProtocol
import KVTransport
import Logging
import MonitorCore
import NIOCore
import NIOPosix
import NodeDriver

/// A kv-monitor in the daemon: a `MonitorDriver` on one event loop in its SwiftNIO
/// environment, behind a listener for the kvservice protocol. Every rule lives in the
/// core and the driver; this is wiring, and the check that a pinging server's address
/// is HOST:PORT (a transport matter: the simulator names its servers otherwise).
///
/// All driver access happens on `loop`; frames arriving on other loops hop to it. That
/// confinement is what makes the unchecked `Sendable` sound.
public final class MonitorNode: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var listen: FrameListener.Source
        public var pingInterval: TimeAmount
        public var deadPings: UInt64
        /// Where the view is kept; nil keeps it in memory only (tests, throwaway clusters).
        public var stateDirectory: String?
        /// Where view, ping and live-server metrics go; nil (the default) records none.
        public var metrics: MonitorMetrics?
        /// Connections beyond this many are refused with `overloaded`.
        public var maxConnections = FrameListener.defaultMaxConnections
        /// With a shared secret, every connection in either direction must prove it knows it.
        public var secret: SharedSecret?
        /// TLS on every connection it accepts and opens (module KVTLS); nil: plain TCP.
        public var tls: (any ConnectionSecurity)?
        /// For one of several monitors sharing a view in etcd; nil for a sole monitor.
        public var controlPlane: ControlPlane?

        public init(
            listen: FrameListener.Source, pingInterval: TimeAmount = .milliseconds(100), deadPings: UInt64 = 5,
            stateDirectory: String? = nil, metrics: MonitorMetrics? = nil
        ) {
            self.listen = listen
            self.pingInterval = pingInterval
            self.deadPings = deadPings
            self.stateDirectory = stateDirectory
            self.metrics = metrics
        }
    }

    /// Where several monitors keep their view (docs/DESIGN.md §2.10).
    public struct ControlPlane: Sendable {
        /// etcd members, as `http://HOST:PORT` (or `HOST:PORT`).
        public var endpoints: [String]
        /// The cluster's name: its keys live under `/kvservice/NAME/`.
        public var cluster: String
        /// The address servers and clients reach this monitor at.
        public var advertise: String
        public var leaderTTL: TimeAmount
        /// TLS to https:// members (`--etcd-cacert`, `--etcd-cert`, `--etcd-key`).
        public var tls: (any ConnectionSecurity)?

        public init(endpoints: [String], cluster: String, advertise: String, leaderTTL: TimeAmount = .seconds(3)) {
            self.endpoints = endpoints
            self.cluster = cluster
            self.advertise = advertise
            self.leaderTTL = leaderTTL
        }
    }

    public let configuration: Configuration
    private let loop: any EventLoop
    private let logger: Logger
    private let environment: NIOMonitorEnvironment
    private let driver: MonitorDriver<NIOMonitorEnvironment>
    /// The kvservice-protocol listener; set once `start` has bound it.
    public private(set) var listener: FrameListener!

    /// - Parameters:
    ///   - onViewChange: called on the loop after every view change or acknowledgement
    ///     (for sd_notify STATUS and the like), with the view and the live servers.
    ///   - onTick: called on the loop at every tick, from the tick itself (the systemd
    ///     watchdog), with the view and the number of live servers.
    public static func start(
        configuration: Configuration, group: any EventLoopGroup, logger: Logger,
        onViewChange: (@Sendable (MonitorReport) -> Void)? = nil, onTick: (@Sendable (MonitorReport) -> Void)? = nil
    ) async throws -> MonitorNode {
        var store: FileViewStore?
        var restored: View?
        if let directory = configuration.stateDirectory {
            store = FileViewStore(directory: directory)
            restored = try store?.load()
        }
        let loop = group.next()
        var election: Election?
        if let controlPlane = configuration.controlPlane {
            let endpoints = try controlPlane.endpoints.map(EtcdEndpoint.parse)
            let client = EtcdClient(
                endpoints: endpoints, group: group,
                requestTimeout: .nanoseconds(controlPlane.leaderTTL.nanoseconds / 3), tls: controlPlane.tls,
                logger: logger)
            election = Election(
                config: ElectionConfig(
                    address: controlPlane.advertise, leaseTTL: UInt64(controlPlane.leaderTTL.nanoseconds),
                    importedView: restored),
                store: EtcdElectionStore(
                    client: client, loop: loop, cluster: controlPlane.cluster, leaseTTL: controlPlane.leaderTTL,
                    logger: logger),
                client: client, importedFrom: store)
            // The view file is only imported from: etcd keeps the view from now on.
            store = nil
            restored = nil
        }
        let node = MonitorNode(
            configuration: configuration, loop: loop, store: store, restored: restored, election: election,
            logger: logger)
        node.environment.onViewChange = onViewChange
        node.environment.onTick = onTick
        if let restored, election == nil {
            logger.notice(
                "restored view from state directory",
                metadata: Notices.viewMetadata(restored).merging(["kv_event": "view-restored"]) { $1 })
        }
        node.listener = try await FrameListener.start(
            source: configuration.listen, group: group, logger: logger, maxConnections: configuration.maxConnections,
            secret: configuration.secret, tls: configuration.tls
        ) { [node] frame, responder in
            node.loop.execute { node.handle(frame, responder) }
        }
        try await node.loop.submit { node.driver.start() }.get()
        return node
    }

    /// What one of several monitors needs beyond a sole one's.
    private struct Election {
        var config: ElectionConfig
        var store: EtcdElectionStore
        var client: EtcdClient
        var importedFrom: FileViewStore?
    }

    private let election: Election?

    private init(
        configuration: Configuration, loop: any EventLoop, store: FileViewStore?, restored: View?,
        election: Election?, logger: Logger
    ) {
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        self.election = election
        self.environment = NIOMonitorEnvironment(
            loop: loop, store: store, threadPool: NIOThreadPool.singleton, logger: logger)
        environment.importedFrom = election?.importedFrom
        self.driver = MonitorDriver(
            // Used only if this monitor founds the cluster (or names a view saved unnamed).
            config: MonitorConfig(deadPings: configuration.deadPings, newClusterID: .random(in: 1...UInt64.max)),
            tickInterval: UInt64(configuration.pingInterval.nanoseconds), restoredView: restored,
            environment: environment, measurements: configuration.metrics,
            election: election.map { ($0.config, $0.store) })
    }

    public var localAddress: PeerAddress? { listener?.localAddress }

    private func handle(_ frame: Frame, _ responder: Responder) {
        if case .ping(let address, _, _, _, _) = frame.message, PeerAddress(address) == nil {
            logger.warning(
                "ping with a bad server address, closing connection",
                metadata: ["kv_peer": "\(responder.peer)", "kv_event": "bad-input", "kv_address": "\(address)"])
            responder.respond(.error(code: .malformedFrame, message: "server address \"\(address)\" is not HOST:PORT"))
            return
        }
        guard !driver.receive(frame.message, from: responder) else { return }
        Notices.refuseUnexpected(frame, from: responder, by: "monitor", logger: logger)
    }

    /// The view this monitor holds (for tests and status): in force, or a follower's
    /// last read.
    public func view() async -> View {
        (try? await loop.submit { self.driver.view }.get()) ?? .initial
    }

    /// The monitor's part, view and live servers, for status lines.
    public func report() async -> MonitorReport {
        (try? await loop.submit {
            let now = NIODeadline.now().uptimeNanoseconds / 1_000_000
            return MonitorReport(
                status: self.driver.status, liveServers: self.driver.servers(at: now).filter(\.alive).count)
        }
        .get())
            ?? MonitorReport(
                status: MonitorStatus(role: .sole, leader: "", view: .initial, storeReachable: false), liveServers: 0)
    }

    public func servers() async -> [ServerInfo] {
        (try? await loop.submit { self.driver.servers(at: NIODeadline.now().uptimeNanoseconds / 1_000_000) }
            .get()) ?? []
    }

    /// Stops ticking and answering (requests waiting for a save get no answer), and waits
    /// for a save still on the thread pool to end.
    public func stopDriver() async {
        let saving: EventLoopFuture<Void>?? = try? await loop.submit {
            self.driver.stop()
            return self.environment.saveInFlight
        }.get()
        if let saving = saving ?? nil { _ = try? await saving.get() }
        guard let election else { return }
        // Bounded by the client's request timeout.
        let revocation: EventLoopFuture<Void>?? = try? await loop.submit { election.store.lastRevocation }.get()
        if let revocation = revocation ?? nil { _ = try? await revocation.get() }
        election.client.close()
    }

    /// The monitor's part, the leader it knows, its view (for tests and status).
    public func status() async -> MonitorStatus? {
        try? await loop.submit { self.driver.status }.get()
    }

    /// Stops at once, as `kill -9` would: no revocation of a lease, no goodbye to etcd
    /// (another monitor leads only once the lease runs out). For tests.
    public func crash() async {
        _ = try? await loop.submit { self.driver.stop(revokingLease: false) }.get()
        election?.client.close()
        await listener.closeAll()
    }

    /// Stops ticking and closes every connection.
    public func stop() async {
        await stopDriver()
        await listener.closeAll()
    }
}
