import ArgumentParser
import DaemonSupport
import KVMetrics
import KVProtocol
import KVServices
import KVSystemd
import KVTLS
import KVTransport
import Logging
import NIOCore
import NIOPosix
import NodeDriver
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

@main
struct KVMonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv-monitor",
        abstract: "The kvservice view service: picks a primary and a backup from pinging servers.",
        discussion: """
            Servers ping the monitor every ping interval; one that misses --dead-pings pings in a row \
            is dead. The view (view number, primary, backup, acknowledged) is stored in --state-dir \
            before it is handed out, so a restarted monitor continues it. With --etcd-endpoints, \
            several monitors share one view kept in etcd: one leads and decides, the others send \
            servers to it and answer view requests. When started by systemd \
            with a passed socket (LISTEN_FDS), that socket is used instead of --listen. With --metrics-listen (or a passed socket \
            named "metrics") it serves Prometheus metrics over HTTP at /metrics.
            """)

    // The defaults are named once and shown in --help by hand: ArgumentParser shows
    // none for an option parsed by a transform (which gives the clearer error).
    static let defaultListen = PeerAddress(host: "127.0.0.1", port: 7100)
    static let defaultPingInterval = DurationOption(.milliseconds(100))

    @Option(help: "Address to listen on (HOST:PORT; default: \(defaultListen)).", transform: PeerAddress.parse)
    var listen = defaultListen

    @Option(
        help:
            "Interval of the servers' pings and of the monitor's tick (e.g. 100ms, 1s; default: \(defaultPingInterval)).",
        transform: DurationOption.parse)
    var pingInterval = defaultPingInterval

    @Option(help: "Pings a server may miss before it is dead.")
    var deadPings: UInt64 = 5

    @Option(help: "Directory keeping the view (default: $STATE_DIRECTORY; none: in memory only).")
    var stateDir: String?

    @OptionGroup(title: "Several monitors (etcd)") var controlPlaneOptions: ControlPlaneOptions

    @OptionGroup var connectionOptions: ConnectionOptions

    @OptionGroup var authOptions: AuthOptions

    @OptionGroup var tlsOptions: TLSOptions

    @OptionGroup var metricsOptions: MetricsOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard pingInterval.amount > .zero else { throw ValidationError("--ping-interval must be longer than 0") }
        guard deadPings >= 1 else { throw ValidationError("--dead-pings must be at least 1") }
    }

    func run() async throws {
        let hangups = await ReloadOnHangup.trap()
        let logger = logging.bootstrap(identifier: "kv-monitor")
        let interval = pingInterval.amount
        let stateDirectory = stateDir ?? getenv("STATE_DIRECTORY").map { String(cString: $0) }
        let supervisor = ServiceSupervisor(tickMicroseconds: UInt64(interval.nanoseconds / 1000), logger: logger)
        let (listen, deadPings, pingInterval) = (listen, deadPings, pingInterval)
        var chosenControlPlane: MonitorNode.ControlPlane?
        var etcdTLS: TLSLayer?
        if let endpoints = controlPlaneOptions.endpoints {
            do {
                chosenControlPlane = MonitorNode.ControlPlane(
                    endpoints: endpoints, cluster: controlPlaneOptions.cluster,
                    advertise: try controlPlaneOptions.advertisedAddress(listen: listen),
                    leaderTTL: controlPlaneOptions.leaderTTL.amount)
                etcdTLS = try controlPlaneOptions.etcdTLS(logger: logger)
                chosenControlPlane?.tls = etcdTLS
            } catch {
                logger.critical("cannot start: \(error)", metadata: ["kv_event": "startup"])
                throw ExitCode.failure
            }
        }
        let controlPlane = chosenControlPlane
        let etcdLayer = etcdTLS
        let metricsListen = metricsOptions.address
        let maxConnections = connectionOptions.maxConnections
        let secretPath = authOptions.path
        let secret: SharedSecret?
        do {
            secret = try authOptions.load()
        } catch {
            logger.critical("cannot start: \(error)", metadata: ["kv_event": "startup"])
            throw ExitCode.failure
        }
        let tls = try tlsOptions.loadAtStart(logger: logger)
        do {
            try await DaemonLifecycle.run(logger: logger) {
                let (source, listenDescription) = try ListenSource.resolve(listen: listen)
                let metrics = try await DaemonMetrics.start(
                    listen: metricsListen, group: MultiThreadedEventLoopGroup.singleton)
                var configuration = MonitorNode.Configuration(
                    listen: source, pingInterval: interval, deadPings: deadPings, stateDirectory: stateDirectory,
                    metrics: metrics.map { MonitorMetrics(factory: $0.factory) })
                configuration.maxConnections = maxConnections
                configuration.secret = secret
                configuration.tls = tls
                configuration.controlPlane = controlPlane
                let node = try await MonitorNode.start(
                    configuration: configuration,
                    group: MultiThreadedEventLoopGroup.singleton, logger: logger,
                    onViewChange: { report in supervisor.status(Self.statusLine(report)) },
                    onTick: { report in
                        supervisor.tick(nowMicroseconds: NIODeadline.now().uptimeNanoseconds / 1000)
                        // Deduplicated by the supervisor: sent only when the line changes.
                        supervisor.status(Self.statusLine(report))
                    })
                logger.notice(
                    "kv-monitor listening on \(listenDescription)",
                    metadata: [
                        "kv_event": "startup", "kv_listen": "\(listenDescription)",
                        "kv_ping_interval": "\(pingInterval)", "kv_dead_pings": "\(deadPings)",
                        "kv_state_dir": "\(stateDirectory ?? "-")",
                        "kv_etcd_endpoints": "\(controlPlane?.endpoints.joined(separator: ",") ?? "-")",
                        "kv_cluster": "\(controlPlane?.cluster ?? "-")",
                        "kv_advertise": "\(controlPlane?.advertise ?? "-")",
                        "kv_metrics_listen": "\(metrics?.description ?? "-")",
                        "kv_max_connections": "\(maxConnections)",
                        "kv_authentication": "\(secret == nil ? "off" : "on (\(secretPath ?? "-"))")",
                        "kv_tls": "\(tls?.summary ?? "off")",
                        "kv_watchdog_ms":
                            "\(supervisor.watchdog.map { String($0.intervalMicroseconds / 1000) } ?? "-")",
                    ])
                if stateDirectory == nil && controlPlane == nil {
                    logger.warning(
                        "no --state-dir: the view is kept in memory only; a restarted monitor forgets it, and an empty server could then become primary of a new view 1",
                        metadata: ["kv_event": "startup"])
                }
                let reload = ReloadOnHangup(
                    signals: hangups,
                    layers: [tls.map { ("TLS", $0) }, etcdLayer.map { ("etcd TLS", $0) }].compactMap { $0 },
                    logger: logger)
                supervisor.ready(status: Self.statusLine(await node.report()))
                // Started in this order; stopped one after the other from the end.
                let parts: [(any Service)?] = [
                    metrics.map { metrics in
                        StopAtShutdown("metrics endpoint") { await metrics.endpoint.close() }
                    },
                    StopAtShutdown("monitor node") { await node.stopDriver() },
                    reload,
                    StopAtShutdown("kvservice listener") {
                        logger.notice("stopping", metadata: ["kv_event": "shutdown"])
                        supervisor.stopping(status: "stopping")
                        await node.listener.closeAll()
                    },
                ]
                return parts.compactMap { $0 }
            }
        } catch {
            logger.critical("cannot start: \(error)", metadata: ["kv_event": "startup"])
            throw ExitCode.failure
        }
    }

    static func statusLine(_ report: MonitorReport) -> String {
        let status = report.status
        let view = status.view
        let primary = view.primary.isEmpty ? "-" : view.primary
        let backup = view.backup.isEmpty ? "-" : view.backup
        let viewText = "view \(view.viewnum): primary \(primary), backup \(backup)"
        switch status.role {
        case .sole, .leader:
            let prefix = status.role == .leader ? "leader; " : ""
            guard view.viewnum > 0 else {
                return prefix + "waiting for the first server; \(report.liveServers) live servers"
            }
            return prefix + viewText + ", " + (view.acked ? "acknowledged" : "not yet acknowledged")
                + "; \(report.liveServers) live servers"
        case .follower:
            guard status.storeReachable else {
                return "etcd unreachable: views frozen; last read \(viewText)"
            }
            let leader = status.leader.isEmpty ? "no leader yet" : "following \(status.leader)"
            return leader + "; " + viewText
        }
    }
}
