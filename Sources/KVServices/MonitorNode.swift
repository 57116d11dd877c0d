import KVMetrics
import KVProtocol
import KVTransport
import Logging
import MonitorCore
import NIOCore

/// Runs `MonitorCore` behind a listener and a tick timer.
///
/// All core access happens on one event loop (`loop`); frames arriving on other loops hop
/// to it. That confinement is what makes the unchecked `Sendable` sound.
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

    public let configuration: Configuration
    private let loop: any EventLoop
    private let logger: Logger
    private var core: MonitorCore
    private var listener: FrameListener?
    private var ticker: RepeatedTask?
    /// Called on the loop after every view change (for sd_notify STATUS and the like).
    /// Set before `start` returns, through `hooks`.
    private var onViewChange: (@Sendable (View, Int) -> Void)?
    /// Called on the loop at every tick, from the tick itself (the systemd watchdog), with
    /// the view and the number of live servers.
    private var onTick: (@Sendable (View, Int) -> Void)?

    public static func start(
        configuration: Configuration, group: any EventLoopGroup, logger: Logger,
        onViewChange: (@Sendable (View, Int) -> Void)? = nil, onTick: (@Sendable (View, Int) -> Void)? = nil
    ) async throws -> MonitorNode {
        let store: any ViewStore
        var restored: View?
        if let directory = configuration.stateDirectory {
            let fileStore = FileViewStore(directory: directory)
            restored = try fileStore.load()
            store = fileStore
        } else {
            store = InMemoryViewStore()
        }
        let loop = group.next()
        let core = MonitorCore(
            config: MonitorConfig(deadPings: configuration.deadPings), store: store, restoredView: restored,
            now: MonotonicClock.nowMillis())
        let node = MonitorNode(configuration: configuration, loop: loop, logger: logger, core: core)
        node.onViewChange = onViewChange
        node.onTick = onTick
        if let restored {
            logger.notice(
                "restored view from state directory",
                metadata: Notices.viewMetadata(restored).merging(["kv_event": "view-restored"]) { $1 })
        }
        node.listener = try await FrameListener.start(
            source: configuration.listen, group: group, logger: logger, maxConnections: configuration.maxConnections,
            secret: configuration.secret
        ) {
            [node] frame, responder in
            node.loop.execute { node.handle(frame, responder) }
        }
        try await loop.submit { node.startTicking() }.get()
        return node
    }

    private init(configuration: Configuration, loop: any EventLoop, logger: Logger, core: MonitorCore) {
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        self.core = core
    }

    public var localAddress: PeerAddress? { listener?.localAddress }

    private func startTicking() {
        ticker = loop.scheduleRepeatedTask(initialDelay: configuration.pingInterval, delay: configuration.pingInterval)
        { [self] _ in
            core.tick(at: MonotonicClock.nowMillis())
            report(core.drainEvents())
            if onTick != nil || configuration.metrics != nil {
                let live = core.servers(at: MonotonicClock.nowMillis()).filter(\.alive).count
                configuration.metrics?.update(
                    viewnum: core.view.viewnum, acknowledged: core.view.acked, liveServers: live)
                onTick?(core.view, live)
            }
        }
    }

    private func handle(_ frame: Frame, _ responder: Responder) {
        let now = MonotonicClock.nowMillis()
        switch frame.message {
        case .ping(let address, _, _) where PeerAddress(address) == nil:
            logger.warning(
                "ping with a bad server address, closing connection",
                metadata: ["kv_peer": "\(responder.peer)", "kv_event": "bad-input", "kv_address": "\(address)"])
            responder.respond(.error(code: .malformedFrame, message: "server address \"\(address)\" is not HOST:PORT"))
        case .ping(let address, let viewnum, let leaving):
            configuration.metrics?.pinged()
            let view = core.ping(from: address, viewnum: viewnum, leaving: leaving, at: now)
            report(core.drainEvents())
            responder.respond(.viewReply(view))
        case .switchover(let viewnum):
            let result = core.switchover(expectedViewnum: viewnum, at: now)
            report(core.drainEvents())
            switch result {
            case .success(let view):
                responder.respond(.switchoverReply(SwitchoverReply(status: .done, view: view)))
            case .failure(let refusal):
                logger.info(
                    "switchover refused: \(refusal)",
                    metadata: ["kv_peer": "\(responder.peer)", "kv_event": "switchover-refused"])
                responder.respond(
                    .switchoverReply(
                        SwitchoverReply(
                            status: refusal.isTransient ? .retryLater : .refused, reason: "\(refusal)", view: core.view)
                    ))
            }
        case .getView:
            responder.respond(.viewReply(core.view))
        case .listServers:
            responder.respond(.serversReply(view: core.view, servers: core.servers(at: now)))
        default:
            logger.warning(
                "unexpected message for a monitor",
                metadata: [
                    "kv_peer": "\(responder.peer)", "kv_event": "bad-input", "kv_type": "\(frame.message.typeCode)",
                ])
            responder.respond(
                .error(code: .unexpectedMessage, message: "a monitor does not take \(frame.message.typeCode)"))
        }
    }

    private func report(_ events: [MonitorEvent]) {
        var changed = false
        for event in events {
            Notices.log(event, logger: logger)
            if case .viewChanged = event {
                changed = true
                configuration.metrics?.viewChanged()
            }
            if case .viewAcknowledged = event { changed = true }
        }
        if changed, let onViewChange {
            onViewChange(core.view, core.servers(at: MonotonicClock.nowMillis()).filter(\.alive).count)
        }
    }

    /// The current view (for tests and status).
    public func view() async -> View {
        (try? await loop.submit { self.core.view }.get()) ?? .initial
    }

    /// The view and the number of live servers, for status lines.
    public func summary() async -> (view: View, liveServers: Int) {
        (try? await loop.submit {
            (self.core.view, self.core.servers(at: MonotonicClock.nowMillis()).filter(\.alive).count)
        }
        .get()) ?? (.initial, 0)
    }

    public func servers() async -> [ServerInfo] {
        (try? await loop.submit { self.core.servers(at: MonotonicClock.nowMillis()) }.get()) ?? []
    }

    /// Stops ticking and closes every connection.
    public func stop() async {
        try? await loop.submit { self.ticker?.cancel() }.get()
        await listener?.closeAll()
    }
}
