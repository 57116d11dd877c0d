import KVMetrics
import KVProtocol
import KVTransport
import Logging
import NIOCore
import ServerCore

/// Runs `ServerCore` behind a listener, a tick timer, a link to the monitor and a link
/// to the backup.
///
/// All core access happens on one event loop (`loop`); frames and replies arriving on
/// other loops hop to it. That confinement is what makes the unchecked `Sendable` sound.
public final class ServerNode: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var listen: FrameListener.Source
        /// The address the monitor and clients use for this server.
        public var advertise: String
        public var monitor: String
        public var pingInterval: TimeAmount
        /// How long a forward, chunk or ping may go unanswered before it counts as lost.
        public var peerTimeout: TimeAmount
        public var core: ServerConfig
        /// Where request, forward and transfer metrics go; nil (the default) records none.
        public var metrics: ServerMetrics?
        /// Connections beyond this many are refused with `overloaded`.
        public var maxConnections = FrameListener.defaultMaxConnections
        /// With a shared secret, every connection in either direction must prove it knows it.
        public var secret: SharedSecret?

        public init(
            listen: FrameListener.Source, advertise: String, monitor: String,
            pingInterval: TimeAmount = .milliseconds(100), peerTimeout: TimeAmount = .seconds(1),
            metrics: ServerMetrics? = nil
        ) {
            self.listen = listen
            self.advertise = advertise
            self.monitor = monitor
            self.pingInterval = pingInterval
            self.peerTimeout = peerTimeout
            self.core = ServerConfig(address: advertise)
            self.metrics = metrics
        }
    }

    /// What the status line shows; cheap to take on every tick.
    public struct Summary: Sendable, Equatable {
        public var view: View
        public var role: ServerInfo.Role
        public var serving: Bool
        public var backupSynchronized: Bool
        public var keys: Int
    }

    /// A snapshot for tests, including a copy of the store.
    public struct Status: Sendable {
        public var view: View
        public var role: ServerInfo.Role
        public var serving: Bool
        public var backupSynchronized: Bool
        public var keys: Int
        public var store: [Bytes: Bytes]
    }

    public let configuration: Configuration
    public let faults: FaultInjector?
    private let group: any EventLoopGroup
    private let startedMillis = MonotonicClock.nowMillis()
    private let loop: any EventLoop
    private let logger: Logger
    private var core: ServerCore
    private var listener: FrameListener?
    private var ticker: RepeatedTask?
    private var monitorLink: PeerLink
    private var backupLink: PeerLink?
    /// Who waits for each `ReplyToken`; for client requests, with the operation and when
    /// it arrived (for the request metrics).
    private var responders: [UInt64: Pending] = [:]
    private var nextToken: UInt64 = 1
    private var pingInFlight = false
    /// When the current state transfer began (restarts included), in monotonic
    /// nanoseconds, for its log record and metrics.
    private var transferStartedNanos: UInt64?
    private var stopped = false
    /// Set once a graceful leave began; completed (once) when it ends.
    private var leavePromise: EventLoopPromise<LeaveOutcome>?
    private var answersWithoutBackup = 0
    private var firstPingPromise: EventLoopPromise<Void>
    private var firstPingDone = false
    /// Called on the loop when the view or role changes (for sd_notify STATUS and the like).
    private var onStatusChange: (@Sendable (Summary) -> Void)?
    /// Called on the loop at every tick, from the tick itself (the systemd watchdog).
    private var onTick: (@Sendable (Summary) -> Void)?

    private struct Pending {
        var waiter: Waiter
        var request: (op: Operation, receivedNanos: UInt64)?
    }

    /// Who gets a reply: a connection of the kvservice protocol, or a caller of `submit`.
    private enum Waiter {
        case connection(Responder)
        case promise(EventLoopPromise<ClientReply>)
        case callback(@Sendable (Result<ClientReply, any Error>) -> Void)
    }

    /// `submit` was called on a node that has stopped.
    public struct StoppedError: Error, CustomStringConvertible {
        public var description: String { "the server has stopped" }
    }

    public static func start(
        configuration: Configuration, group: any EventLoopGroup, logger: Logger, faults: FaultInjector? = nil,
        onStatusChange: (@Sendable (Summary) -> Void)? = nil, onTick: (@Sendable (Summary) -> Void)? = nil
    ) async throws -> ServerNode {
        let node = ServerNode(configuration: configuration, group: group, logger: logger, faults: faults)
        node.onStatusChange = onStatusChange
        node.onTick = onTick
        node.listener = try await FrameListener.start(
            source: configuration.listen, group: group, logger: logger, faults: faults,
            maxConnections: configuration.maxConnections,
            secret: configuration.secret
        ) { [node] frame, responder in
            node.loop.execute { node.handle(frame, responder) }
        }
        try await node.loop.submit { node.startTicking() }.get()
        return node
    }

    private init(configuration: Configuration, group: any EventLoopGroup, logger: Logger, faults: FaultInjector?) {
        self.configuration = configuration
        self.group = group
        self.loop = group.next()
        self.logger = logger
        self.faults = faults
        self.core = ServerCore(config: configuration.core)
        self.monitorLink = PeerLink(
            address: configuration.monitor, group: group, loop: loop, faults: faults, secret: configuration.secret)
        self.firstPingPromise = loop.makePromise()
    }

    public var localAddress: PeerAddress? { listener?.localAddress }

    /// Completes once the first ping has been answered or has failed.
    public var firstPingAttempted: EventLoopFuture<Void> { firstPingPromise.futureResult }

    private func startTicking() {
        ticker = loop.scheduleRepeatedTask(initialDelay: .zero, delay: configuration.pingInterval) { [self] _ in
            run(core.step(.tick))
            updateGauges()
            onTick?(summary())
        }
    }

    // MARK: - Inbound

    private func handle(_ frame: Frame, _ responder: Responder) {
        guard !stopped else { return }
        switch frame.message {
        case .request(let request):
            let timing = configuration.metrics == nil ? nil : (request.op, MonotonicClock.nowNanos())
            run(core.step(.clientRequest(request, register(.connection(responder), request: timing))))
        case .forward(let batch):
            run(core.step(.forward(batch, register(.connection(responder), request: nil))))
        case .transfer(let chunk):
            run(core.step(.transfer(chunk, register(.connection(responder), request: nil))))
        case .serverInfo:
            responder.respond(.serverInfoReply(stats()))
        default:
            logger.warning(
                "unexpected message for a server",
                metadata: [
                    "kv_peer": "\(responder.peer)", "kv_event": "bad-input", "kv_type": "\(frame.message.typeCode)",
                ])
            responder.respond(
                .error(code: .unexpectedMessage, message: "a server does not take \(frame.message.typeCode)"))
        }
    }

    private func register(_ waiter: Waiter, request: (op: Operation, receivedNanos: UInt64)?) -> ReplyToken {
        let token = nextToken
        nextToken += 1
        responders[token] = Pending(waiter: waiter, request: request)
        return ReplyToken(token)
    }

    /// Submits a data request as if it had arrived on a client connection, through the
    /// same core (replication and the backup's confirmation included); for front ends such
    /// as the Redis-protocol endpoint. The future completes on the node's loop, with
    /// `StoppedError` if the node has stopped (or stops before answering).
    public func submit(_ request: ClientRequest) -> EventLoopFuture<ClientReply> {
        let promise = loop.makePromise(of: ClientReply.self)
        submit(request, .promise(promise))
        return promise.futureResult
    }

    /// `submit` without a future: `completion` runs on the node's loop, with `StoppedError`
    /// if the node has stopped (or stops before answering).
    public func submit(
        _ request: ClientRequest, completion: @escaping @Sendable (Result<ClientReply, any Error>) -> Void
    ) {
        submit(request, .callback(completion))
    }

    private func submit(_ request: ClientRequest, _ waiter: Waiter) {
        // Always as a new task, even from the node's loop: a caller answered from inside
        // `run` must not step the core again before the rest of those effects are carried
        // out. Tasks run in order, so a caller's requests reach the core in its order.
        loop.execute { [self] in
            guard !stopped else { return Self.fail(waiter) }
            let timing = configuration.metrics == nil ? nil : (request.op, MonotonicClock.nowNanos())
            run(core.step(.clientRequest(request, register(waiter, request: timing))))
        }
    }

    private static func fail(_ waiter: Waiter) {
        switch waiter {
        case .connection: break
        case .promise(let promise): promise.fail(StoppedError())
        case .callback(let completion): completion(.failure(StoppedError()))
        }
    }

    // MARK: - Effects

    private func run(_ effects: [ServerEffect]) {
        var statusChanged = false
        for effect in effects {
            switch effect {
            case .reply(let token, let reply):
                guard let pending = responders.removeValue(forKey: token.raw) else { break }
                // Counted before the reply leaves, so a client that saw it also sees the count.
                if let metrics = configuration.metrics, let (op, received) = pending.request {
                    metrics.requestAnswered(
                        op: op, status: reply.status, nanoseconds: Self.elapsedNanos(since: received))
                }
                switch pending.waiter {
                case .connection(let responder): responder.respond(.reply(reply))
                case .promise(let promise): promise.succeed(reply)
                case .callback(let completion): completion(.success(reply))
                }
            case .answerPrimary(let token, let ack):
                if case .connection(let responder) = responders.removeValue(forKey: token.raw)?.waiter {
                    responder.respond(.backupAck(ack))
                }
            case .sendToBackup(let address, let id, let message):
                sendToBackup(address, id, message)
            case .ping(let viewnum, let leaving):
                ping(viewnum, leaving: leaving)
            case .notice(let notice):
                var duration: UInt64?
                switch notice {
                case .transferStarted:
                    transferStartedNanos = MonotonicClock.nowNanos()
                    configuration.metrics?.transfer(.started)
                case .transferCompleted:
                    let nanos = transferStartedNanos.map { Self.elapsedNanos(since: $0) }
                    duration = nanos.map { UInt64($0) / 1_000_000 }
                    transferStartedNanos = nil
                    configuration.metrics?.transfer(.completed)
                    if let nanos { configuration.metrics?.transferFinished(nanoseconds: nanos) }
                case .transferRestarted:
                    configuration.metrics?.transfer(.restarted)
                case .forwardResent(_, let batches, _):
                    configuration.metrics?.forwardBatches(.resent, count: batches)
                default:
                    break
                }
                Notices.log(notice, logger: logger, durationMillis: duration)
                statusChanged = true
            }
        }
        if statusChanged, let onStatusChange { onStatusChange(summary()) }
    }

    private func sendToBackup(_ address: String, _ id: BackupMessageID, _ message: Message) {
        if backupLink?.address != address {
            backupLink?.close()
            backupLink = PeerLink(
                address: address, group: group, loop: loop, faults: faults, secret: configuration.secret)
        }
        var isForward = false
        if case .forward = message { isForward = true }
        let forwardSentNanos = configuration.metrics != nil && isForward ? MonotonicClock.nowNanos() : nil
        if forwardSentNanos != nil { configuration.metrics?.forwardBatches(.sent) }
        backupLink!.send(message, timeout: configuration.peerTimeout).whenComplete { [self] result in
            guard !stopped else { return }
            var ack: BackupAck?
            if case .success(.backupAck(let received)) = result { ack = received }
            if let metrics = configuration.metrics, let forwardSentNanos {
                metrics.forwardBatches(ack?.verdict == .accepted ? .acked : .failed)
                metrics.forwardBatchFinished(nanoseconds: Self.elapsedNanos(since: forwardSentNanos))
            }
            run(core.step(.backupReplied(id, ack)))
        }
    }

    private func ping(_ viewnum: UInt64, leaving: Bool) {
        guard !pingInFlight, !stopped else { return }
        pingInFlight = true
        monitorLink.send(
            .ping(address: configuration.advertise, viewnum: viewnum, leaving: leaving),
            timeout: configuration.peerTimeout
        )
        .whenComplete { [self] result in
            pingInFlight = false
            markFirstPing()
            if case .failure(let error) = result {
                logger.debug(
                    "ping to the monitor failed: \(error)",
                    metadata: ["kv_event": "ping-failed", "kv_peer": "\(configuration.monitor)"])
            }
            guard !stopped, case .success(.viewReply(let view)) = result else { return }
            run(core.step(.viewFromMonitor(view)))
            // Only the answer to a ping that said "leaving" shows what the monitor made
            // of the request; an older answer may predate it.
            if leaving { checkLeave() }
        }
    }

    private static func elapsedNanos(since start: UInt64) -> Int64 {
        Int64(clamping: MonotonicClock.nowNanos() &- start)
    }

    /// The metrics gauges, from the core (on every tick).
    private func updateGauges() {
        configuration.metrics?.update(
            viewnum: core.view.viewnum, role: core.role, keys: core.store.count, bytes: max(0, core.storeBytes),
            duplicateClients: core.duplicates.count)
    }

    private func markFirstPing() {
        guard !firstPingDone else { return }
        firstPingDone = true
        firstPingPromise.succeed()
    }

    // MARK: - Control

    /// The server's own report (`kvctl server-info`).
    func stats() -> ServerStats {
        ServerStats(
            address: configuration.advertise, role: core.role, view: core.view, serving: core.isServing,
            backupSynchronized: core.backupSynchronized, keys: UInt64(core.store.count),
            bytes: UInt64(max(0, core.storeBytes)), duplicates: UInt64(core.duplicates.count),
            uptimeMillis: MonotonicClock.nowMillis() - startedMillis,
            connections: UInt32(clamping: listener?.openConnections ?? 0),
            pendingReplies: UInt32(clamping: core.pendingReplies),
            deferredRequests: UInt32(clamping: core.deferredRequests),
            counters: core.counters)
    }

    public func summary() -> Summary {
        Summary(
            view: core.view, role: core.role, serving: core.isServing, backupSynchronized: core.backupSynchronized,
            keys: core.store.count)
    }

    public func status() -> Status {
        Status(
            view: core.view, role: core.role, serving: core.isServing, backupSynchronized: core.backupSynchronized,
            keys: core.store.count, store: core.store)
    }

    /// The status-line summary, taken on the node's loop.
    public func currentSummary() async -> Summary? {
        try? await loop.submit { self.summary() }.get()
    }

    /// A snapshot taken on the node's loop.
    public func currentStatus() async -> Status? {
        try? await loop.submit { self.status() }.get()
    }

    /// Runs `body` on the node's loop with read access to its core, for tests and
    /// diagnostics; nil once the node has stopped.
    public func inspect<Value: Sendable>(_ body: @escaping @Sendable (ServerCore) -> Value) async -> Value? {
        try? await loop.submit { self.stopped ? nil : body(self.core) }.get()
    }

    /// How a graceful leave ended.
    public enum LeaveOutcome: Sendable, Equatable {
        /// The monitor's view no longer gives this server a role.
        case relieved(View)
        /// Primary of a view without a backup: nobody can take over its data.
        case nobodyToTakeOver(View)
        /// The monitor did not relieve it in time (unreachable, or the view could not
        /// change safely).
        case timedOut(View)
    }

    /// Asks the monitor to hand this server's role to another, and returns once a view
    /// without it arrives (or `timeout` passes). Keeps serving meanwhile: clients in
    /// flight are answered, or told to go to the new primary when the view changes.
    public func leave(timeout: TimeAmount) async -> LeaveOutcome {
        let future: EventLoopFuture<LeaveOutcome>? = try? await loop.submit { [self] in
            if let leavePromise { return leavePromise.futureResult }
            let promise = loop.makePromise(of: LeaveOutcome.self)
            leavePromise = promise
            run(core.step(.leave))
            let deadline = loop.scheduleTask(in: timeout) { [self] in
                promise.succeed(.timedOut(core.view))
            }
            promise.futureResult.whenComplete { _ in deadline.cancel() }
            return promise.futureResult
        }.get()
        return (try? await future?.get()) ?? .timedOut(.initial)
    }

    private func checkLeave() {
        guard let leavePromise else { return }
        if core.hasLeft {
            leavePromise.succeed(.relieved(core.view))
        } else if core.role == .primary && core.view.backup.isEmpty && core.view.acked {
            // An acknowledged view without a backup gets an idle server as backup as soon
            // as the monitor knows one; after a monitor restart idle servers are known
            // only once they ping again. So only a view that stays without a backup for a
            // while means that nobody can take the data.
            answersWithoutBackup += 1
            if answersWithoutBackup >= Self.answersBeforeGivingUp {
                leavePromise.succeed(.nobodyToTakeOver(core.view))
            }
        } else {
            answersWithoutBackup = 0
        }
    }

    /// Leaving pings answered with an acknowledged view without a backup before a leaving
    /// primary gives up waiting for one: a second at the default ping interval.
    private static let answersBeforeGivingUp = 10

    /// Ends the node at once, as a crash would: connections closed, state gone.
    public func crash() async {
        try? await loop.submit {
            self.stopped = true
            self.ticker?.cancel()
            self.monitorLink.close()
            self.backupLink?.close()
            for pending in self.responders.values { Self.fail(pending.waiter) }
            self.responders.removeAll()
            self.markFirstPing()
            self.leavePromise?.succeed(.timedOut(self.core.view))
        }.get()
        await listener?.closeAll()
    }

    /// Stops accepting, lets requests in flight finish (bounded by `grace`), then closes.
    public func shutdown(grace: TimeAmount = .seconds(2)) async {
        await listener?.stopAccepting()
        let deadline = NIODeadline.now() + grace
        while NIODeadline.now() < deadline {
            let busy = (try? await loop.submit { !self.responders.isEmpty }.get()) ?? false
            if !busy { break }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        await crash()
    }
}
