import ArgumentParser
import KVServices
import KVTransport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

@main
struct KVMonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv-monitor",
        abstract: "The kvservice view service: picks a primary and a backup from pinging servers.",
        discussion: """
            Servers ping the monitor every ping interval; one that misses --dead-pings pings in a row \
            is dead. The view (view number, primary, backup, acknowledged) is stored in --state-dir \
            before it is handed out, so a restarted monitor continues it. When started by systemd \
            with a passed socket (LISTEN_FDS), that socket is used instead of --listen.
            """)

    @Option(help: "Address to listen on (HOST:PORT).")
    var listen: String = "127.0.0.1:7100"

    @Option(help: "Interval of the servers' pings and of the monitor's tick (e.g. 100ms, 1s).")
    var pingInterval: String = "100ms"

    @Option(help: "Pings a server may miss before it is dead.")
    var deadPings: UInt64 = 5

    @Option(help: "Directory keeping the view (default: $STATE_DIRECTORY; none: in memory only).")
    var stateDir: String?

    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard DurationText.parse(pingInterval).map({ $0 > .zero }) == true else {
            throw ValidationError("--ping-interval: \"\(pingInterval)\" is not a duration such as 100ms")
        }
        guard deadPings >= 1 else { throw ValidationError("--dead-pings must be at least 1") }
        guard PeerAddress(listen) != nil else { throw ValidationError("--listen: \"\(listen)\" is not HOST:PORT") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "kv-monitor")
        let source = SocketActivation.passedListener() ?? .bind(PeerAddress(listen)!)
        let interval = DurationText.parse(pingInterval)!
        let stateDirectory = stateDir ?? SocketActivation.environment("STATE_DIRECTORY")
        let node = try await MonitorNode.start(
            configuration: .init(
                listen: source, pingInterval: interval, deadPings: deadPings, stateDirectory: stateDirectory),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        logger.notice(
            "kv-monitor listening",
            metadata: [
                "kv_event": "startup", "kv_listen": "\(node.localAddress?.description ?? listen)",
                "kv_ping_interval": "\(pingInterval)", "kv_dead_pings": "\(deadPings)",
                "kv_state_dir": "\(stateDirectory ?? "-")",
            ])
        let services = ServiceGroup(
            services: [NodeService { await node.stop() }], gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        try await services.run()
    }
}
