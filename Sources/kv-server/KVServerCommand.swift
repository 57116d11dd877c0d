import ArgumentParser
import KVServices
import KVTransport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

@main
struct KVServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv-server",
        abstract: "A kvservice key/value server: primary, backup or idle, as the monitor's view says.",
        discussion: """
            The server pings the monitor every ping interval. As primary it answers clients and \
            forwards every operation to the backup; as backup it takes the primary's state and \
            updates. It starts empty every time. When started by systemd with a passed socket \
            (LISTEN_FDS), that socket is used instead of --listen.
            """)

    @Option(help: "Address to listen on (HOST:PORT).")
    var listen: String = "127.0.0.1:7101"

    @Option(help: "The monitor's address (HOST:PORT).")
    var monitor: String = "127.0.0.1:7100"

    @Option(help: "Address the monitor and clients use to reach this server (default: --listen).")
    var advertise: String?

    @Option(help: "Interval of pings to the monitor (must match the monitor's).")
    var pingInterval: String = "100ms"

    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard DurationText.parse(pingInterval).map({ $0 > .zero }) == true else {
            throw ValidationError("--ping-interval: \"\(pingInterval)\" is not a duration such as 100ms")
        }
        guard PeerAddress(listen) != nil else { throw ValidationError("--listen: \"\(listen)\" is not HOST:PORT") }
        guard PeerAddress(monitor) != nil else { throw ValidationError("--monitor: \"\(monitor)\" is not HOST:PORT") }
        if let advertise, PeerAddress(advertise) == nil {
            throw ValidationError("--advertise: \"\(advertise)\" is not HOST:PORT")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "kv-server")
        let source = SocketActivation.passedListener() ?? .bind(PeerAddress(listen)!)
        let advertised = advertise ?? listen
        let node = try await ServerNode.start(
            configuration: .init(
                listen: source, advertise: advertised, monitor: monitor,
                pingInterval: DurationText.parse(pingInterval)!),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        logger.notice(
            "kv-server listening",
            metadata: [
                "kv_event": "startup", "kv_listen": "\(node.localAddress?.description ?? listen)",
                "kv_advertise": "\(advertised)", "kv_monitor": "\(monitor)", "kv_ping_interval": "\(pingInterval)",
            ])
        let services = ServiceGroup(
            services: [NodeService { await node.shutdown() }], gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        try await services.run()
    }
}
