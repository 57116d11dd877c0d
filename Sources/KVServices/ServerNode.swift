import KVMetrics
import KVProtocol
import KVStorage
import KVTransport
import Logging
import NIOCore
import NIOPosix
import NodeDriver
import ServerCore

/// A kv-server in the daemon: a `ServerDriver` on one event loop in its SwiftNIO
/// environment, behind a listener for the kvservice protocol. Every rule lives in the
/// core and the driver; this is wiring, and the answers only a process can give (its
/// uptime, its connections).
///
/// All driver access happens on `loop`; frames and calls arriving on other threads hop
/// to it. That confinement is what makes the unchecked `Sendable` sound.
public final class ServerNode: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var listen: FrameListener.Source
        /// The address the monitor and clients use for this server.
        public var advertise: String
        /// The monitors' addresses, at least one; the driver pings one at a time
        /// (`MonitorRotation`).
        public var monitors: [String]
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
        /// TLS on every connection it accepts and opens (module KVTLS); nil: plain TCP.
        public var tls: (any ConnectionSecurity)?
        /// Where the server keeps its log and snapshots (docs/STORAGE.md); nil keeps the
        /// data in memory only.
        public var dataDirectory: String?
        /// How far the log must be on disk before a reply reveals it.
        public var fsync = FsyncPolicy.always
        /// The log size from which compactions start (tests make it small).
        public var compactionMinimumBytes = DiskLog.compactionMinimumBytes
        /// New at every start of the process (see `ServerDriver.Configuration.incarnation`).
        public var incarnation = UInt64.random(in: 1...UInt64.max)
        /// Loops of their own for in-process front ends' connections (`kv-server
        /// --io-threads`): a `ClientReplySink` on one of them reaches the core, and is
        /// answered, through batches of one task per loop turn (`IOLoopRelay`). Empty (the
        /// default): sinks on other loops hop once per request.
        public var ioLoops: [any EventLoop] = []

        public init(
            listen: FrameListener.Source, advertise: String, monitors: [String],
            pingInterval: TimeAmount = .milliseconds(100), peerTimeout: TimeAmount = .seconds(1),
            metrics: ServerMetrics? = nil
        ) {
            precondition(!monitors.isEmpty, "at least one monitor")
            self.listen = listen
            self.advertise = advertise
            self.monitors = monitors
            self.pingInterval = pingInterval
            self.peerTimeout = peerTimeout
            self.core = ServerConfig(address: advertise)
            self.core.readLease = Self.defaultReadLease
            self.metrics = metrics
        }

        /// kv-server's default read lease (`--read-lease`): below the monitor's default
        /// dead-server time of 500 ms, so a crashed primary's failover waits for nothing.
        public static let defaultReadLease: UInt64 = 400_000_000

        /// A server of a service with one monitor.
        public init(
            listen: FrameListener.Source, advertise: String, monitor: String,
            pingInterval: TimeAmount = .milliseconds(100), peerTimeout: TimeAmount = .seconds(1),
            metrics: ServerMetrics? = nil
        ) {
            self.init(
                listen: listen, advertise: advertise, monitors: [monitor], pingInterval: pingInterval,
                peerTimeout: peerTimeout, metrics: metrics)
        }
    }

    /// What the status line shows; cheap to take on every tick.
    public struct Summary: Sendable, Equatable {
        public var view: View
        public var role: ServerInfo.Role
        public var serving: Bool
        public var backupSynchronized: Bool
        public var keys: Int
        /// A peer that has not answered for a while (`ServerDriver.peerTrouble`).
        public var trouble: String?
        /// The data directory's disk is full: updates are refused.
        public var diskFull = false

        init(_ core: ServerCore, trouble: String?) {
            view = core.view
            role = core.role
            serving = core.isServing
            backupSynchronized = core.backupSynchronized
            keys = core.store.count
            self.trouble = trouble
            diskFull = core.diskFull
        }
    }

    public typealias LeaveOutcome = NodeDriver.LeaveOutcome

    /// `submit` was called on a node that has stopped (or it stopped before answering).
    public struct StoppedError: Error, CustomStringConvertible {
        public var description: String { "the server has stopped" }
    }

    public let configuration: Configuration
    private let startedAt = NIODeadline.now()
    private let loop: any EventLoop
    private let logger: Logger
    private let environment: NIOServerEnvironment
    private let driver: ServerDriver<NIOServerEnvironment>
    /// The data directory's log, with a data directory.
    public let diskLog: DiskLog?
    /// What opening the data directory found, for `kvctl server-info`.
    public let storageReport: String?
    /// The kvservice-protocol listener; set once `start` has bound it.
    public private(set) var listener: FrameListener!
    /// One per I/O loop of the configuration.
    private let relays: [IOLoopRelay]

    /// - Parameter fail: ends the process after a failed write or sync of the data
    ///   directory (tests pass one that records it).
    public static func start(
        configuration: Configuration, group: any EventLoopGroup, logger: Logger,
        onStatusChange: (@Sendable (Summary) -> Void)? = nil, onTick: (@Sendable (Summary) -> Void)? = nil,
        fail: @escaping @Sendable (String) -> Never = { fatalError($0) }
    ) async throws -> ServerNode {
        // Before the recovery: the wait out of an earlier process's leases runs from here.
        let startedAt = LeaseClock.nanoseconds()
        let loop = group.next()
        var storage: (log: DiskLog, opening: StorageEngine<POSIXDataDirectory>.Opening)?
        if let path = configuration.dataDirectory {
            // Recovery reads and checks every file: off the event loop, before serving.
            storage = try await NIOThreadPool.singleton.runIfActive {
                let engine = StorageEngine(
                    fileSystem: try POSIXDataDirectory(path: path), policy: configuration.fsync,
                    preparedSpace: defaultPreparedSpace)
                let opening = try engine.open(
                    start: ServerStart(
                        incarnation: configuration.incarnation, bootID: POSIXDataDirectory.bootID(),
                        policy: configuration.fsync),
                    duplicateCapacity: configuration.core.duplicateTableCapacity,
                    setAsideName: "damaged-\(UInt64(NIODeadline.now().uptimeNanoseconds))")
                let log = DiskLog(
                    engine: engine, loop: loop, metrics: configuration.metrics,
                    compactionMinimumBytes: configuration.compactionMinimumBytes,
                    warn: { logger.warning("\($0)", metadata: ["kv_event": "compaction-abandoned"]) }, fail: fail)
                return (log, opening)
            }
            Notices.storageOpened(storage!.opening, directory: path, logger: logger)
        }
        let node = ServerNode(
            configuration: configuration, loop: loop, group: group, logger: logger, storage: storage,
            startedAt: startedAt)
        node.environment.onStatusChange = onStatusChange
        node.environment.onTick = onTick
        node.listener = try await FrameListener.start(
            source: configuration.listen, group: group, logger: logger,
            maxConnections: configuration.maxConnections, secret: configuration.secret, tls: configuration.tls
        ) { [node] frame, responder in
            node.loop.execute { node.handle(frame, responder) }
        }
        try await node.loop.submit { node.driver.start() }.get()
        return node
    }

    private init(
        configuration: Configuration, loop: any EventLoop, group: any EventLoopGroup, logger: Logger,
        storage: (log: DiskLog, opening: StorageEngine<POSIXDataDirectory>.Opening)?, startedAt: UInt64
    ) {
        var core = configuration.core
        core.durable = storage != nil
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        self.diskLog = storage?.log
        self.storageReport = storage?.opening.report
        self.environment = NIOServerEnvironment(
            loop: loop, group: group, secret: configuration.secret, tls: configuration.tls, logger: logger)
        self.driver = ServerDriver(
            configuration: .init(
                core: core, monitors: configuration.monitors,
                pingInterval: UInt64(configuration.pingInterval.nanoseconds),
                peerTimeout: UInt64(configuration.peerTimeout.nanoseconds), incarnation: configuration.incarnation),
            environment: environment, measurements: configuration.metrics, storage: storage?.log,
            recovered: storage?.opening.recovered, startedAt: startedAt)
        environment.peerTrouble = { [weak driver] in driver?.peerTrouble }
        let driver = self.driver
        self.relays = configuration.ioLoops.map { ioLoop in
            IOLoopRelay(ioLoop: ioLoop, coreLoop: loop) { submission, relay in
                driver.receive(submission.request, from: .relayed(relay, submission.sink, slot: submission.slot))
            }
        }
    }

    public var localAddress: PeerAddress? { listener?.localAddress }

    /// The loop the node's driver runs on: a `ClientReplySink` there is answered directly.
    public var eventLoop: any EventLoop { loop }

    // MARK: - Inbound

    private func handle(_ frame: Frame, _ responder: Responder) {
        switch frame.message {
        case .request(let request):
            driver.receive(request, from: .connection(responder))
        case .forward(let batch):
            driver.receive(batch, from: .connection(responder))
        case .transfer(let chunk):
            driver.receive(chunk, from: .connection(responder))
        case .serverInfo:
            responder.respond(.serverInfoReply(stats()))
        case .adoptData:
            // A refusal is an error, so that kvctl revive stops instead of asking the monitor
            // for a view the server would refuse.
            if let refusal = driver.core.adoptionRefusal {
                driver.adoptData()  // logs the refusal
                responder.respond(.error(code: .unexpectedMessage, message: "cannot adopt its data: \(refusal)"))
            } else {
                driver.adoptData()
                responder.respond(.serverInfoReply(stats()))
            }
        default:
            Notices.refuseUnexpected(frame, from: responder, by: "server", logger: logger)
        }
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

    /// `submit` without a future, task or closure per request: the reply goes to
    /// `sink.deliver(_:slot:)` (or `abandon(slot:)` once the node has stopped), on the
    /// sink's loop. The path of the Redis-protocol endpoint's commands.
    ///
    /// On the node's own loop (kv-server's default) the request reaches the driver at once
    /// and its reply is a direct call from the driver's effects; the sink may submit again
    /// from there (the driver steps that request after those effects). On one of the
    /// configuration's I/O loops, the request joins that loop's turn's batch to the core,
    /// and the reply the core's turn's batch back (`IOLoopRelay`). A sink on any other
    /// loop, or a call from another thread, hops: to the node's loop, and back to the sink's.
    public func submit(_ request: ClientRequest, slot: UInt64, to sink: any ClientReplySink) {
        let sinkLoop = sink.eventLoop
        if sinkLoop === loop, loop.inEventLoop {
            driver.receive(request, from: .sink(sink, slot: slot))
            return
        }
        for relay in relays where relay.ioLoop === sinkLoop {
            guard sinkLoop.inEventLoop else { break }
            relay.toCore.append(.init(request: request, slot: slot, sink: sink))
            return
        }
        let remote = RemoteSink(sink: sink)
        submit(
            request,
            .callback { outcome in
                sinkLoop.execute {
                    switch outcome {
                    case .success(let reply): remote.sink.deliver(reply, slot: slot)
                    case .failure: remote.sink.abandon(slot: slot)
                    }
                }
            })
    }

    /// A sink handed to the node's loop and back to its own: only ever called there.
    private struct RemoteSink: @unchecked Sendable {
        let sink: any ClientReplySink
    }

    private func submit(_ request: ClientRequest, _ requester: ServerRequester) {
        // As a new task even from the node's loop: a future's callbacks may run inside
        // the driver's effects. Tasks run in order, so a caller's requests reach the core
        // in its order.
        loop.execute { [self] in driver.receive(request, from: requester) }
    }

    // MARK: - Reports

    /// The server's own report (`kvctl server-info`).
    private func stats() -> ServerStats {
        let core = driver.core
        return ServerStats(
            address: configuration.advertise, role: core.role, view: core.view, serving: core.isServing,
            backupSynchronized: core.backupSynchronized, keys: UInt64(core.store.count),
            bytes: UInt64(max(0, core.storeBytes)), duplicates: UInt64(core.duplicates.count),
            uptimeMillis: UInt64((NIODeadline.now() - startedAt).nanoseconds / 1_000_000),
            connections: UInt32(clamping: listener?.openConnections ?? 0),
            pendingReplies: UInt32(clamping: core.pendingReplies),
            deferredRequests: UInt32(clamping: core.deferredRequests),
            counters: core.counters,
            storage: diskLog.map { log in
                let figures = log.current
                return StorageStats(
                    directory: configuration.dataDirectory ?? "", fsync: "\(configuration.fsync)",
                    logBytes: UInt64(figures.logBytes), snapshotBytes: UInt64(figures.snapshotBytes),
                    lastWritten: figures.lastWritten, lastSynced: figures.lastSynced, claim: core.claim,
                    opening: (core.diskFull ? "NOW: the disk is full, updates are refused until it takes writes; " : "")
                        + (storageReport ?? ""))
            })
    }

    /// The status-line summary, taken on the node's loop.
    public func currentSummary() async -> Summary? {
        try? await loop.submit { Summary(self.driver.core, trouble: self.driver.peerTrouble) }.get()
    }

    /// Runs `body` on the node's loop with read access to its core, for tests and
    /// diagnostics; nil once the node has stopped.
    public func inspect<Value: Sendable>(_ body: @escaping @Sendable (ServerCore) -> Value) async -> Value? {
        try? await loop.submit { self.driver.isRunning ? body(self.driver.core) : nil }.get()
    }

    /// Completes once the first ping has been answered or has failed (readiness).
    public func firstPingSettled() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute { self.driver.whenFirstPingSettled { continuation.resume() } }
        }
    }

    // MARK: - Stopping

    /// Asks the monitor to hand this server's role to another, and returns once a view
    /// without it arrives (or `timeout` passes). Keeps serving meanwhile: clients in
    /// flight are answered, or told to go to the new primary when the view changes.
    public func leave(timeout: TimeAmount) async -> LeaveOutcome {
        await withCheckedContinuation { (continuation: CheckedContinuation<LeaveOutcome, Never>) in
            loop.execute {
                self.driver.leave(timeout: UInt64(max(0, timeout.nanoseconds))) { continuation.resume(returning: $0) }
            }
        }
    }

    /// Returns once no request waits for its answer, or after `grace`.
    public func drain(grace: TimeAmount) async {
        let promise = loop.makePromise(of: Void.self)
        loop.execute {
            let deadline = self.loop.scheduleTask(in: grace) { promise.succeed() }
            self.driver.whenIdle {
                deadline.cancel()
                promise.succeed()
            }
        }
        try? await promise.futureResult.get()
        await relaysDelivered()
    }

    /// Returns once every reply the core has made so far has reached its I/O loop's
    /// connection: the core's loop hands this turn's replies over, then each I/O loop runs
    /// what was handed to it.
    private func relaysDelivered() async {
        guard !relays.isEmpty else { return }
        try? await loop.submit {}.get()
        for relay in relays { try? await relay.ioLoop.submit {}.get() }
    }

    /// For each I/O loop: the requests its connections submitted and the tasks that
    /// carried them to the core, then the replies and the tasks that carried them back.
    public func handOffCounts() async -> [(requests: Int, hops: Int, replies: Int, replyHops: Int)] {
        var counts: [(requests: Int, hops: Int, replies: Int, replyHops: Int)] = []
        for relay in relays {
            let inbound = try? await relay.ioLoop.submit { (relay.toCore.items, relay.toCore.hops) }.get()
            let outbound = try? await loop.submit { (relay.toIO.items, relay.toIO.hops) }.get()
            counts.append((inbound?.0 ?? 0, inbound?.1 ?? 0, outbound?.0 ?? 0, outbound?.1 ?? 0))
        }
        return counts
    }

    /// Stops the driver (no more ticks or pings; requests still waiting are abandoned)
    /// and closes the links to the monitor and the backup. The listener is separate.
    public func stop() async {
        try? await loop.submit {
            self.driver.stop()
            self.environment.close()
        }.get()
        // The abandoned requests' answers reach their I/O loops' connections.
        await relaysDelivered()
        // What was handed to the log is written and synced before the process goes.
        await diskLog?.close()
    }

    /// The kvservice listener's part of a graceful stop: stops accepting, lets requests in
    /// flight finish (bounded by `grace`), then closes every connection.
    public func stopListening(grace: TimeAmount) async {
        await listener.stopAccepting()
        await drain(grace: grace)
        await listener.closeAll()
    }

    /// `systemctl stop` without the hand-over: the listener's part, then the node's.
    public func shutdown(grace: TimeAmount = .seconds(2)) async {
        await stopListening(grace: grace)
        await stop()
    }

    /// Ends the node at once, as a crash would: connections closed, state gone.
    public func crash() async {
        await stop()
        await listener.closeAll()
    }
}
