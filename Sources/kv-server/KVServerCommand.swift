import ArgumentParser
import DaemonSupport
import KVMetrics
import KVProtocol
import KVResp
import KVServices
import KVSystemd
import KVTLS
import KVTransport
import Logging
import NIOCore
import NIOPosix
import ServerCore
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

@main
struct KVServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv-server",
        abstract: "A kvservice key/value server: primary, backup or idle, as the monitor's view says.",
        discussion: """
            The server pings the monitor every ping interval (one of several: --monitor A,B,C). As primary it answers clients and \
            forwards every operation to the backup; as backup it takes the primary's state and \
            updates. Without --data-dir it keeps its data in memory only and starts empty every time; \
            with it, every update is logged (synced before it is acknowledged under --fsync always) and a \
            restart recovers the data. When started by systemd with a passed socket \
            (LISTEN_FDS), that socket is used instead of --listen. With --metrics-listen (or a passed socket \
            named "metrics") it serves Prometheus metrics over HTTP at /metrics. With --resp-listen (or a passed \
            socket named "resp") it also serves the Redis protocol (RESP2, and RESP3 after HELLO 3): strings with expiry, \
            counters, keys, SCAN and MULTI/EXEC/WATCH.
            """)

    // The defaults are named once and shown in --help by hand: ArgumentParser shows
    // none for an option parsed by a transform (which gives the clearer error).
    static let defaultListen = PeerAddress(host: "127.0.0.1", port: 7101)
    static let defaultMonitor = PeerAddress(host: "127.0.0.1", port: 7100)
    static let defaultPingInterval = DurationOption(.milliseconds(100))
    static let defaultLeaveTimeout = DurationOption(.seconds(10))
    static let defaultReadLease = DurationOption(.nanoseconds(Int64(ServerNode.Configuration.defaultReadLease)))

    @Option(help: "Address to listen on (HOST:PORT; default: \(defaultListen)).", transform: PeerAddress.parse)
    var listen = defaultListen

    @Option(
        help: ArgumentHelp(
            "The monitors' addresses (HOST:PORT[,HOST:PORT...]; default: $KV_MONITOR, then \(defaultMonitor)).",
            discussion: """
                The server pings one at a time: the one that last answered; after no answer, the next; \
                after a follower's answer naming the leader, the leader.
                """),
        transform: PeerAddress.parseList)
    var monitor: [PeerAddress]?

    @Option(
        help: "Address the monitor and clients use to reach this server (default: --listen).",
        transform: PeerAddress.parse)
    var advertise: PeerAddress?

    @Option(
        help: "Interval of pings to the monitor (must match the monitor's; default: \(defaultPingInterval)).",
        transform: DurationOption.parse)
    var pingInterval = defaultPingInterval

    @Option(
        help: ArgumentHelp(
            "On SIGTERM, how long to wait for the monitor to hand this server's role to another before exiting "
                + "(default: \(defaultLeaveTimeout)).",
            discussion: "0s exits at once, without asking to be relieved."),
        transform: DurationOption.parse)
    var leaveTimeout = defaultLeaveTimeout

    @Option(
        help: ArgumentHelp(
            "Directory for the log and snapshots (default: none, data in memory only).",
            discussion: """
                Created if missing (mode 0700). At start the server replays it and tells the monitor what \
                it holds, so that losing every server at once loses no acknowledged write. Under systemd: \
                StateDirectory=, /var/lib/kvservice/server-PORT.
                """))
    var dataDir: String?

    @Option(
        help: ArgumentHelp(
            "When the log is synced: always, everysec or no (default: always).",
            discussion: """
                always: every update is fdatasync'ed before its reply or its backup's acknowledgement \
                leaves (group commit). everysec: written before, synced once a second (a power cut may \
                lose the last second; a restart after one claims nothing). no: written before, synced by \
                the kernel.
                """),
        transform: { text in
            guard let policy = FsyncPolicy(name: text) else {
                throw ValidationError("--fsync must be always, everysec or no, not '\(text)'")
            }
            return policy
        })
    var fsync = FsyncPolicy.always

    @Option(
        help: ArgumentHelp(
            "The read lease asked of the backup, up to 1s; 0 turns it off (default: \(defaultReadLease)).",
            discussion: """
                While the lease holds, the primary answers a GET of a key whose last update the backup \
                has acknowledged (and, with --data-dir, its own log holds) without a round trip to the \
                backup. Keep it below the monitor's dead-server time (5 pings by default: 500ms), or a \
                failover waits for it to run out; use the same value on every server.
                """),
        transform: DurationOption.parse)
    var readLease = defaultReadLease

    @Option(
        help: ArgumentHelp(
            "Event loops of their own for the Redis-protocol connections, up to 64 (default: 0).",
            discussion: """
                0 runs everything on one event loop. With N, the Redis-protocol connections are spread \
                over N more threads, which read commands and write replies, and the first loop runs the \
                server's core alone; requests reach it, and replies leave it, in one hand-off per loop \
                turn per I/O thread. Worth it with more than 2 cores (docs/PERFORMANCE.md).
                """))
    var ioThreads = 0

    @OptionGroup var connectionOptions: ConnectionOptions

    @OptionGroup var authOptions: AuthOptions

    @OptionGroup var tlsOptions: TLSOptions

    @OptionGroup var metricsOptions: MetricsOptions

    @OptionGroup var respOptions: RESPOptions

    @OptionGroup var logging: LoggingOptions

    /// How long requests in flight may take to be answered once a stop is requested.
    static let drainGrace: TimeAmount = .seconds(2)

    func validate() throws {
        guard pingInterval.amount > .zero else { throw ValidationError("--ping-interval must be longer than 0") }
        guard readLease.amount >= .zero, readLease.amount.nanoseconds <= Int64(Limits.maxReadLease) else {
            throw ValidationError("--read-lease must be between 0 and 1s, not \(readLease)")
        }
        guard (0...64).contains(ioThreads) else {
            throw ValidationError("--io-threads must be between 0 and 64, not \(ioThreads)")
        }
        _ = try monitors()
    }

    /// `--monitor`, else `$KV_MONITOR`, else the default.
    func monitors() throws -> [PeerAddress] {
        if let monitor { return monitor }
        guard let variable = getenv("KV_MONITOR").map({ String(cString: $0) }) else { return [Self.defaultMonitor] }
        do {
            return try PeerAddress.parseList(variable)
        } catch {
            throw ValidationError("KV_MONITOR: \(error)")
        }
    }

    func run() async throws {
        let hangups = await ReloadOnHangup.trap()
        // One event loop for everything: the core runs on one thread anyway, and with the
        // connections on that same thread a request reaches it, and its reply leaves, without
        // a hop between threads (a wake-up and a context switch each). scripts/bench: SET at
        // -P 1 went from 38k to 51k requests/s on 2 cores.
        // With --io-threads, that loop runs the core (and the kvservice protocol, the backup
        // link, the metrics) and the Redis-protocol connections run on loops of their own,
        // handing requests and replies over in one task per loop turn (docs/DESIGN.md §7.3).
        NIOSingletons.groupLoopCountSuggestion = 1
        let ioLoopCount = ioThreads
        let ioGroup = ioLoopCount > 0 ? MultiThreadedEventLoopGroup(numberOfThreads: ioLoopCount) : nil
        let logger = logging.bootstrap(identifier: "kv-server")
        let interval = pingInterval.amount
        let advertised = (advertise ?? listen).description
        let supervisor = ServiceSupervisor(tickMicroseconds: UInt64(interval.nanoseconds / 1000), logger: logger)
        // The supervisor sends a STATUS= line only when it differs from the last one.
        let updateStatus: @Sendable (ServerNode.Summary) -> Void = { supervisor.status(Self.statusLine($0)) }
        let monitors = try self.monitors().map(\.description)
        let (listen, pingInterval, leaveTimeout) = (listen, pingInterval, leaveTimeout)
        let metricsListen = metricsOptions.address
        let respListen = respOptions.address
        let maxConnections = connectionOptions.maxConnections
        let (dataDir, fsync, readLease) = (dataDir, fsync, readLease)
        let secretPath = authOptions.path
        let secret: SharedSecret?
        do {
            secret = try authOptions.load()
        } catch {
            logger.critical("cannot start: \(error)", metadata: ["kv_event": "startup"])
            throw ExitCode.failure
        }
        // The host peers dial (none to check when it is a wildcard: peers then dial
        // whatever name the operator gave them).
        let advertisedHost = (advertise ?? listen).host
        let tls = try tlsOptions.loadAtStart(
            logger: logger,
            advertised: ["0.0.0.0", "::", ""].contains(advertisedHost) ? nil : advertisedHost)
        do {
            try await DaemonLifecycle.run(logger: logger) {
                let (source, listenDescription) = try ListenSource.resolve(listen: listen)
                let metrics = try await DaemonMetrics.start(
                    listen: metricsListen, group: MultiThreadedEventLoopGroup.singleton)
                var configuration = ServerNode.Configuration(
                    listen: source, advertise: advertised, monitors: monitors, pingInterval: interval,
                    metrics: metrics.map { ServerMetrics(factory: $0.factory, appendix: $0.appendix) })
                configuration.maxConnections = maxConnections
                configuration.secret = secret
                configuration.tls = tls
                configuration.dataDirectory = dataDir
                configuration.fsync = fsync
                configuration.core.readLease = UInt64(readLease.amount.nanoseconds)
                if let ioGroup { configuration.ioLoops = Array(ioGroup.makeIterator()) }
                let node = try await ServerNode.start(
                    configuration: configuration,
                    group: MultiThreadedEventLoopGroup.singleton, logger: logger,
                    onStatusChange: updateStatus,
                    onTick: { summary in
                        supervisor.tick(nowMicroseconds: NIODeadline.now().uptimeNanoseconds / 1000)
                        updateStatus(summary)
                    },
                    fail: { reason in
                        logger.critical("\(reason)", metadata: ["kv_event": "storage-failed"])
                        // Not exit(): other threads may be mid-write; nothing must run after this.
                        _exit(70)
                    })
                // The monitor declares a server dead after 5 silent ping intervals by default:
                // a longer lease would make a crashed primary's failover wait for it.
                if readLease.amount >= interval * 5 {
                    logger.warning(
                        "--read-lease \(readLease) is not below 5 ping intervals (\(DurationOption(interval * 5))): a failover after a crashed primary waits for the lease to run out",
                        metadata: ["kv_event": "lease-too-long"])
                }
                let resp = try await Self.startRESP(
                    listen: respListen, node: node, ioGroup: ioGroup, logger: logger, maxConnections: maxConnections,
                    secret: secret, tls: tls)
                logger.notice(
                    "kv-server listening on \(listenDescription)",
                    metadata: [
                        "kv_event": "startup", "kv_listen": "\(listenDescription)", "kv_advertise": "\(advertised)",
                        "kv_monitor": "\(monitors.joined(separator: ","))", "kv_ping_interval": "\(pingInterval)",
                        "kv_metrics_listen": "\(metrics?.description ?? "-")",
                        "kv_max_connections": "\(maxConnections)",
                        "kv_authentication": "\(secret == nil ? "off" : "on (\(secretPath ?? "-"))")",
                        "kv_tls": "\(tls?.summary ?? "off")",
                        "kv_resp_listen": "\(resp?.description ?? "-")",
                        "kv_data_dir": "\(dataDir ?? "-")", "kv_fsync": "\(dataDir == nil ? "-" : "\(fsync)")",
                        "kv_read_lease": "\(readLease)", "kv_io_threads": "\(ioLoopCount)",
                        "kv_watchdog_ms":
                            "\(supervisor.watchdog.map { String($0.intervalMicroseconds / 1000) } ?? "-")",
                    ])
                let reload = ReloadOnHangup(
                    signals: hangups, layers: tls.map { [("TLS", $0)] } ?? [], logger: logger)
                // Ready once it accepts connections and has tried its first ping; never
                // gated on a role or on data.
                await node.firstPingSettled()
                let summary = await node.currentSummary()
                supervisor.ready(status: summary.map(Self.statusLine) ?? "starting")
                // Started in this order; stopped one after the other from the end: the
                // hand-over first (while everything still serves), then the listeners,
                // each once the requests in flight are answered, then the node, then the
                // metrics endpoint.
                let parts: [(any Service)?] = [
                    metrics.map { metrics in
                        StopAtShutdown("metrics endpoint") { await metrics.endpoint.close() }
                    },
                    StopAtShutdown("server node") { await node.stop() },
                    reload,
                    StopAtShutdown("kvservice listener") { await node.stopListening(grace: Self.drainGrace) },
                    resp.map { resp in
                        StopAtShutdown("Redis-protocol listener") {
                            await resp.listener.stopAccepting()
                            await node.drain(grace: Self.drainGrace)
                            await resp.listener.close()
                        }
                    },
                    StopAtShutdown("hand-over") {
                        logger.notice("stopping", metadata: ["kv_event": "shutdown"])
                        if leaveTimeout.amount > .zero {
                            supervisor.stopping(status: "stopping: handing over its role")
                            Self.log(await node.leave(timeout: leaveTimeout.amount), logger: logger)
                        }
                        supervisor.stopping(status: "stopping: finishing requests in flight")
                    },
                ]
                return parts.compactMap { $0 }
            }
        } catch {
            logger.critical("cannot start: \(error)", metadata: ["kv_event": "startup"])
            throw ExitCode.failure
        }
    }

    /// The Redis-protocol endpoint, when `--resp-listen` was given or systemd passed a
    /// socket named "resp"; with where it listens, for the startup record.
    static func startRESP(
        listen: PeerAddress?, node: ServerNode, ioGroup: (any EventLoopGroup)?, logger: Logger, maxConnections: Int,
        secret: SharedSecret?, tls: TLSLayer?
    ) async throws -> (listener: RESPListener, description: String)? {
        guard let (source, description) = try ListenSource.resolveRESP(listen: listen) else { return nil }
        let listener = try await RESPListener.start(
            source: source, backend: node, group: MultiThreadedEventLoopGroup.singleton, connectionGroup: ioGroup,
            logger: logger,
            maxConnections: maxConnections, secret: secret, tls: tls)
        if case .bind = source, let bound = listener.localAddress { return (listener, bound.description) }
        return (listener, description)
    }

    static func log(_ outcome: ServerNode.LeaveOutcome, logger: Logger) {
        switch outcome {
        case .relieved(let view):
            logger.notice(
                "relieved of its role in view \(view.viewnum); exiting",
                metadata: ["kv_event": "leaving", "kv_viewnum": "\(view.viewnum)"])
        case .nobodyToTakeOver(let view):
            logger.warning(
                "primary of view \(view.viewnum) without a backup: nobody can take over its data; exiting",
                metadata: ["kv_event": "leaving", "kv_viewnum": "\(view.viewnum)"])
        case .monitorUnreachable(let view, let reason):
            logger.warning(
                """
                no monitor can be reached (\(reason)), so none can hand over this server's role \
                (last view \(view.viewnum)); exiting without waiting for --leave-timeout
                """,
                metadata: ["kv_event": "leaving", "kv_viewnum": "\(view.viewnum)"])
        case .timedOut(let view):
            logger.warning(
                "the monitor did not relieve this server in time (last view \(view.viewnum)); exiting anyway",
                metadata: ["kv_event": "leaving", "kv_viewnum": "\(view.viewnum)"])
        }
    }

    static func statusLine(_ summary: ServerNode.Summary) -> String {
        let line = roleLine(summary)
        let full = summary.diskFull ? "DISK FULL (updates refused): \(line)" : line
        guard let trouble = summary.trouble else { return full }
        return "\(full); \(trouble)"
    }

    private static func roleLine(_ summary: ServerNode.Summary) -> String {
        let view = summary.view
        guard view.viewnum > 0 else { return "waiting for the monitor's first view" }
        let keys = "\(summary.keys) keys"
        let primary = view.primary.isEmpty ? "-" : view.primary
        let backup = view.backup.isEmpty ? "-" : view.backup
        switch summary.role {
        case .primary:
            let state =
                !summary.serving
                ? "not serving"
                : view.backup.isEmpty
                    ? "no backup"
                    : summary.backupSynchronized ? "backup \(backup) synchronised" : "transferring to \(backup)"
            return "primary of view \(view.viewnum) (\(state)), \(keys)"
        case .backup:
            return "backup of view \(view.viewnum) (primary \(primary)), \(keys)"
        case .idle:
            return "idle in view \(view.viewnum) (primary \(primary), backup \(backup))"
        }
    }
}
