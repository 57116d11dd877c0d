import KVProtocol
import ServerCore

/// Runs a `ServerCore` in an environment: feeds it requests, answers, timer ticks and the
/// monitor's views, and carries out its effects (docs/DESIGN.md §7). The daemon runs it
/// over SwiftNIO and the simulator over its simulated network, so the rules that live
/// here run under the simulator too:
/// - which requester each reply token belongs to (a `TokenRing`), and client requests
///   that arrive while it carries out effects (`inbox`);
/// - one ping in flight at a time (a ping the core asks for meanwhile is dropped: the
///   next tick asks again with the core's state of then);
/// - which of several monitors to ping (`MonitorRotation`, docs/DESIGN.md §4.3): the one
///   that last answered; after no answer, the next; after a follower's `notLeader`, the
///   leader it names, pinged again at once (once a tick at most);
/// - when a graceful leave ends (`checkLeave`);
/// - readiness: the first ping has been answered or has failed.
///
/// Not thread-safe: everything happens on the environment's one thread.
///
/// Client requests may arrive re-entrantly: an environment may hand a reply straight to
/// its requester (the daemon's Redis-protocol endpoint does, on the driver's loop), and
/// that requester may submit its next request at once. Such a request waits in `inbox`
/// and is stepped after the effects being carried out, never in their middle.
public final class ServerDriver<Environment: ServerEnvironment> {
    public struct Configuration: Sendable {
        public var core: ServerConfig
        /// The monitors' addresses, at least one: the server pings one at a time.
        public var monitors: [String]
        /// Nanoseconds between ticks (and pings).
        public var pingInterval: UInt64
        /// Nanoseconds a forward, chunk or ping may go unanswered before it counts as lost.
        public var peerTimeout: UInt64
        /// New at every start of the process, never 0: every ping carries it, so the
        /// monitor tells a restart from a ping whose view was lost (docs/DESIGN.md §3.12).
        public var incarnation: UInt64

        public init(
            core: ServerConfig, monitors: [String], pingInterval: UInt64, peerTimeout: UInt64,
            incarnation: UInt64 = .random(in: 1...UInt64.max)
        ) {
            precondition(!monitors.isEmpty, "at least one monitor")
            precondition(incarnation != 0, "incarnation 0 means none")
            self.core = core
            self.monitors = monitors
            self.pingInterval = pingInterval
            self.peerTimeout = peerTimeout
            self.incarnation = incarnation
        }
    }

    public let configuration: Configuration
    public let environment: Environment
    /// Where request, forward and transfer measurements go; nil records none.
    public let measurements: (any ServerMeasurements)?
    /// The data directory's log, when the server has one (`ServerConfig.durable`).
    public let storage: (any ServerStorage)?
    // Exclusivity: `core`, `pending`, `inbox`, `lifecycle` and `carryingOut`
    // are touched only on the environment's one thread, and no access to them is held
    // across a call out of the driver: `core.step` is a pure function of the core, and its
    // effects are carried out after it returned (a request that arrives meanwhile goes to
    // `inbox`). Every access is therefore instantaneous and none overlaps another, which the
    // dynamic checks (a `swift_beginAccess` on every request's several touches) would only
    // confirm.
    @exclusivity(unchecked) public private(set) var core: ServerCore
    @exclusivity(unchecked) private var lifecycle = Lifecycle.created
    /// Who waits for which reply token.
    @exclusivity(unchecked) private var pending = TokenRing<Pending>()
    /// Client requests that arrived while effects were being carried out, in order of
    /// arrival; stepped once those are done. Reused, not reallocated.
    @exclusivity(unchecked) private var inbox: [(request: ClientRequest, requester: Environment.Requester)] = []
    /// Effects are being carried out (requests go to `inbox`).
    @exclusivity(unchecked) private var carryingOut = false
    /// An emptied array for the next step's effects (`step(_:)`, `recycle`).
    @exclusivity(unchecked) private var spareEffects: [ServerEffect] = []
    private var ping = PingSlot.free
    /// The monitor to ping, of the configured ones.
    public private(set) var monitors: MonitorRotation
    /// A ping was sent again at once this tick, to the leader a follower named.
    private var redirectedThisTick = false
    private var ticker: Environment.Timer?
    private var leave = LeaveState.notLeaving
    private var firstPing = FirstPing.waiting([])
    /// Confined like `pending`, and looked at after every run of effects.
    @exclusivity(unchecked) private var whenIdle: [() -> Void] = []
    /// When the state transfer under way began (restarts included).
    private var transferStartedAt: UInt64?
    /// Whether the monitor, and as primary the backup, answer (for operators: the log,
    /// the status line and the metrics).
    private var monitorReach: PeerReachability
    private var backupReach: PeerReachability
    /// The backup `backupReach` judges.
    private var judgedBackup = ""

    /// Why the monitor or the backup has not answered for a while, for a status line; nil
    /// while both answer.
    public var peerTrouble: String? {
        let parts = [
            monitorReach.trouble.map { "monitor unreachable: \($0)" },
            backupReach.trouble.map { "backup \(judgedBackup) unreachable: \($0)" },
        ].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// Trouble begins after this many ping intervals without an answer; reminders come at
    /// most once a minute.
    static var troubleAfterIntervals: UInt64 { 3 }
    static var remindEvery: UInt64 { 60_000_000_000 }

    /// Requests are taken from creation on (a listener may hand them over before the
    /// first tick); ticks and pings run from `start()`; nothing runs after `stop()`.
    private enum Lifecycle {
        case created
        case running
        case stopped
    }

    private struct Pending {
        var requester: Environment.Requester
        /// For client requests when measuring: the operation and when it arrived.
        var request: (op: Operation, receivedAt: UInt64)?
    }

    private enum PingSlot {
        case free
        case inFlight
    }

    private enum LeaveState {
        case notLeaving
        case leaving(LeaveProgress)
        case ended(LeaveOutcome)
    }

    private struct LeaveProgress {
        var waiters: [(LeaveOutcome) -> Void]
        var deadline: Environment.Timer
        var answersWithoutBackup = 0
        /// Monitors that leaving pings found unreachable since any monitor last answered
        /// or merely failed to answer in time.
        var unreachableMonitors: Set<String> = []
    }

    private enum FirstPing {
        case waiting([() -> Void])
        case settled
    }

    /// Leaving pings answered with an acknowledged view without a backup before a leaving
    /// primary gives up waiting for one: a second at the default ping interval. An
    /// acknowledged view without a backup gets an idle server as backup as soon as the
    /// monitor knows one, and after a monitor restart idle servers are known only once
    /// they ping again; so only a view that stays without a backup for a while means that
    /// nobody can take the data.
    public static var answersBeforeGivingUp: Int { 10 }

    /// - Parameters:
    ///   - storage: the log, required when `configuration.core.durable` is set.
    ///   - recovered: what that log held at start.
    ///   - startedAt: the lease clock when the process started, before its recovery (the
    ///     wait out of the leases an earlier process may have granted runs from there,
    ///     docs/DESIGN.md §3.14); nil: now.
    public init(
        configuration: Configuration, environment: Environment, measurements: (any ServerMeasurements)? = nil,
        storage: (any ServerStorage)? = nil, recovered: RecoveredData? = nil, startedAt: UInt64? = nil
    ) {
        precondition(configuration.core.durable == (storage != nil), "a durable server needs storage, and only it")
        self.configuration = configuration
        self.environment = environment
        self.measurements = measurements
        self.storage = storage
        self.core = ServerCore(
            config: configuration.core, recovered: recovered, startedAt: startedAt ?? environment.leaseClock)
        self.monitors = MonitorRotation(configuration.monitors)
        let threshold = Self.troubleAfterIntervals * configuration.pingInterval
        monitorReach = PeerReachability(threshold: threshold, remindEvery: Self.remindEvery, now: environment.now)
        backupReach = PeerReachability(threshold: threshold, remindEvery: Self.remindEvery, now: environment.now)
    }

    /// One step of the core, at the clocks' time now: the wall clock for deadlines, the
    /// lease clock (read fresh for every step) for read leases.
    /// The effects go into the spare array, taken for the step (`recycle` gives it back).
    private func step(_ event: ServerEvent) -> [ServerEffect] {
        var effects = spareEffects
        spareEffects = []
        effects.removeAll(keepingCapacity: true)
        core.step(event, now: environment.wallClockMillis, clock: environment.leaseClock, into: &effects)
        return effects
    }

    /// Keeps the array of effects carried out for the next step, so that steps reuse one
    /// allocation. A step taken while another's effects are carried out finds the spare
    /// taken, and makes its own.
    private func recycle(_ effects: [ServerEffect]) {
        if effects.capacity > spareEffects.capacity { spareEffects = effects }
    }

    /// Starts ticking: the first tick (and ping) at once, then every ping interval.
    public func start() {
        precondition(lifecycle == .created, "a driver starts once")
        lifecycle = .running
        storage?.start(
            persisted: { [weak self] lsn in
                guard let self, self.lifecycle == .running else { return }
                self.run(self.step(.persisted(upTo: lsn)))
            },
            diskFull: { [weak self] full in
                guard let self, self.lifecycle == .running else { return }
                self.run(self.step(.diskFull(full)))
            })
        ticker = environment.scheduleRepeated(initialDelay: 0, every: configuration.pingInterval) { [weak self] in
            self?.tick()
        }
    }

    public var isRunning: Bool { lifecycle == .running }

    // MARK: - Inbound

    // Only client requests and ticks read the wall clock. Other events run at the time of
    // the last that did (the core never lets time go back): a request they let proceed
    // (deferred, then drained at an acknowledgement) is judged at a time no earlier than
    // its arrival, and replicated updates carry deadlines the primary decided.

    /// A client's request; the answer goes to `requester`. May be called while the driver
    /// carries out effects (from inside `ServerEnvironment.respond`): the request is then
    /// stepped right after them.
    public func receive(_ request: ClientRequest, from requester: Environment.Requester) {
        guard lifecycle != .stopped else { return environment.abandon(requester) }
        if carryingOut {
            inbox.append((request, requester))
            return
        }
        run(step(request, from: requester))
    }

    private func step(_ request: ClientRequest, from requester: Environment.Requester) -> [ServerEffect] {
        let token = register(
            requester, request: measurements == nil ? nil : (request.op, environment.now))
        return step(.clientRequest(request, token))
    }

    /// A forward batch from a primary (this server as backup).
    public func receive(_ batch: ForwardBatch, from requester: Environment.Requester) {
        guard lifecycle != .stopped else { return environment.abandon(requester) }
        run(step(.forward(batch, register(requester, request: nil))))
    }

    /// A state-transfer chunk from a primary (this server as backup).
    public func receive(_ chunk: TransferChunk, from requester: Environment.Requester) {
        guard lifecycle != .stopped else { return environment.abandon(requester) }
        run(step(.transfer(chunk, register(requester, request: nil))))
    }

    /// The operator accepts this server's data as the state to serve (`kvctl revive`).
    public func adoptData() {
        guard lifecycle == .running else { return }
        run(step(.adoptData))
    }

    private func register(
        _ requester: Environment.Requester, request: (op: Operation, receivedAt: UInt64)?
    ) -> ReplyToken {
        ReplyToken(pending.insert(Pending(requester: requester, request: request)))
    }

    // MARK: - Effects

    /// Carries out `effects`, then steps the requests that arrived meanwhile (and carries
    /// out theirs), in order.
    private func run(_ effects: consuming [ServerEffect]) {
        var effects = effects
        if carryingOut {
            // A step taken while carrying out effects (a storage or peer callback that
            // completed at once): its effects go after the current ones.
            return carryOut(&effects)
        }
        carryingOut = true
        carryOut(&effects)
        recycle(effects)
        var next = 0
        while next < inbox.count {
            let (request, requester) = inbox[next]
            next += 1
            if lifecycle == .stopped {
                environment.abandon(requester)
            } else {
                var effects = step(request, from: requester)
                carryOut(&effects)
                recycle(effects)
            }
        }
        inbox.removeAll(keepingCapacity: true)
        carryingOut = false
        if pending.isEmpty { releaseIdleWaiters() }
    }

    /// Carries out `effects`, moving each out of the array (which is left holding
    /// placeholders, for `recycle`).
    private func carryOut(_ effects: inout [ServerEffect]) {
        var statusChanged = false
        // Each effect is moved out, not copied: matching one in place still copied it
        // through its value witness, retaining every array it holds (about 370
        // instructions per request; scripts/bench --callgrind).
        for index in effects.indices {
            var effect = ServerEffect.ping(viewnum: 0, leaving: false)
            swap(&effect, &effects[index])
            switch consume effect {
            case .reply(let token, let reply):
                guard let waiting = pending.remove(token.raw) else { break }
                // Counted before the reply leaves, so a client that saw it also sees the count.
                if let measurements, let (op, receivedAt) = waiting.request {
                    measurements.requestAnswered(
                        op: op, status: reply.status, nanoseconds: elapsed(since: receivedAt))
                }
                environment.respond(to: waiting.requester, with: .reply(reply))
            case .answerPrimary(let token, let ack):
                guard let waiting = pending.remove(token.raw) else { break }
                environment.respond(to: waiting.requester, with: .backupAck(ack))
            case .sendToBackup(let address, let id, let message):
                sendToBackup(address, id, message)
            case .ping(let viewnum, let leaving):
                sendPing(viewnum: viewnum, leaving: leaving)
            case .notice(let notice):
                log(notice)
                statusChanged = true
            case .persist(let record, let lsn):
                storage!.append(record, lsn: lsn)
            case .persistUpdates(let updates, let firstLSN):
                for index in updates.indices {
                    storage!.append(update: updates[index], lsn: firstLSN + UInt64(index))
                }
            case .persistSnapshot(let lsn):
                storage!.snapshot(snapshotState(lsn: lsn), replacing: true)
            }
        }
        if statusChanged { environment.statusChanged(core) }
    }

    private func snapshotState(lsn: UInt64) -> SnapshotState {
        SnapshotState(
            lsn: lsn, store: core.store, duplicates: core.duplicates.entriesInOrder(), claim: core.claim)
    }

    private func sendToBackup(_ address: String, _ id: BackupMessageID, _ message: Message) {
        var sentAt: UInt64?
        if let measurements, case .forward = message {
            measurements.forwardBatches(.sent, count: 1)
            sentAt = environment.now
        }
        environment.send(message, to: .server(address), timeout: configuration.peerTimeout) {
            [weak self] answer in
            guard let self, self.lifecycle == .running else { return }
            var ack: BackupAck?
            if case .success(.backupAck(let received)) = answer { ack = received }
            if address == self.judgedBackup {
                switch answer {
                case .success(.backupAck): self.reached(.backup, self.backupReach.answered(at: self.environment.now))
                case .success(let other):
                    self.backupReach.failed("answered \(other.typeCode)", at: self.environment.now)
                case .failure(let failure): self.backupReach.failed("\(failure)", at: self.environment.now)
                }
            }
            if let measurements = self.measurements, let sentAt {
                measurements.forwardBatches(ack?.verdict == .accepted ? .acked : .failed, count: 1)
                measurements.forwardBatchFinished(nanoseconds: self.elapsed(since: sentAt))
            }
            self.run(self.step(.backupReplied(id, ack)))
        }
    }

    private func sendPing(viewnum: UInt64, leaving: Bool) {
        guard case .free = ping, lifecycle == .running else { return }
        ping = .inFlight
        let monitor = monitors.current
        environment.send(
            .ping(
                address: configuration.core.address, viewnum: viewnum, leaving: leaving,
                incarnation: configuration.incarnation, claim: core.pingClaim), to: .monitor(monitor),
            timeout: configuration.peerTimeout
        ) { [weak self] answer in
            guard let self else { return }
            self.ping = .free
            self.settleFirstPing()
            guard self.lifecycle == .running else { return }
            if case .success = answer { self.monitorAnswered() }
            switch answer {
            case .success(.viewReply), .success(.notLeader):
                self.reached(.monitor, self.monitorReach.answered(at: self.environment.now))
            case .success(let other):
                self.monitorReach.failed("\(monitor) answered \(other.typeCode)", at: self.environment.now)
            case .failure(let failure):
                self.monitorReach.failed("\(monitor): \(failure)", at: self.environment.now)
            }
            switch answer {
            case .success(.viewReply(let view)):
                self.monitors.answered()
                self.run(self.step(.viewFromMonitor(view)))
                // Only the answer to a ping that said "leaving" shows what the monitor made
                // of the request; an older answer may predate it.
                if leaving { self.checkLeave() }
            case .success(.notLeader(let leader)):
                let follows = self.monitors.follows(leader)
                self.monitors.redirected(to: leader)
                // The leader it names, at once rather than a tick later; once a tick, so
                // that two monitors naming each other cannot keep the slot busy.
                if follows, !self.redirectedThisTick {
                    self.redirectedThisTick = true
                    self.sendPing(viewnum: self.core.pingViewnum, leaving: self.core.leaving)
                }
            case .success:
                // One no monitor gives to a ping (an error: not a monitor, or one that
                // refused the ping): the next monitor at the next tick.
                self.monitors.failed()
            case .failure(let failure):
                // No answer: the next monitor at the next tick.
                self.monitors.failed()
                if leaving { self.leavingPingFailed(to: monitor, failure) }
            }
        }
    }

    private func log(_ notice: ServerNotice) {
        var duration: UInt64?
        switch notice {
        case .transferStarted:
            transferStartedAt = environment.now
            measurements?.transfer(.started)
        case .transferCompleted:
            if let transferStartedAt { duration = environment.now &- transferStartedAt }
            transferStartedAt = nil
            measurements?.transfer(.completed)
            if let duration { measurements?.transferFinished(nanoseconds: Int64(clamping: duration)) }
        case .transferRestarted:
            measurements?.transfer(.restarted)
        case .transferResumed:
            measurements?.transfer(.resumed)
        case .forwardResent(_, let batches, _):
            measurements?.forwardBatches(.resent, count: batches)
        default:
            break
        }
        environment.log(notice, durationNanos: duration)
    }

    private func elapsed(since start: UInt64) -> Int64 {
        Int64(clamping: environment.now &- start)
    }

    // MARK: - Tick

    private func tick() {
        guard lifecycle == .running else { return }
        redirectedThisTick = false
        run(step(.tick))
        checkReachability()
        // Compaction: the log since the last snapshot has grown; not while a transfer is
        // replacing the store (the snapshot would hold half of it).
        if let storage, storage.wantsSnapshot, core.mayCompact {
            storage.snapshot(snapshotState(lsn: core.lastLSN), replacing: false)
        }
        if let measurements {
            var gauges = ServerGauges()
            gauges.viewnum = core.view.viewnum
            gauges.role = core.role
            gauges.keys = core.store.count
            gauges.bytes = max(0, core.storeBytes)
            gauges.duplicateClients = core.duplicates.count
            gauges.expiringKeys = core.store.expiring
            gauges.keysExpired = core.counters.keysExpired
            gauges.revision = core.store.revision
            measurements.update(gauges)
        }
        environment.ticked(core)
    }

    // MARK: - Reachability

    private enum JudgedPeer: String {
        case monitor, backup
    }

    private func checkReachability() {
        let now = environment.now
        // Only a serving primary's backup is judged, and a new one afresh.
        let backup = core.isServing ? core.view.backup : ""
        if backup != judgedBackup {
            if backupReach.isInTrouble, !judgedBackup.isEmpty {
                log(.peerReachable(peer: "backup", address: judgedBackup, seconds: 0))
            }
            judgedBackup = backup
            backupReach.reset(at: now)
        }
        reached(.monitor, monitorReach.check(at: now))
        if !judgedBackup.isEmpty { reached(.backup, backupReach.check(at: now)) }
        measurements?.peersReachable(monitor: !monitorReach.isInTrouble, backup: !backupReach.isInTrouble)
    }

    private func reached(_ peer: JudgedPeer, _ report: PeerReachability.Report?) {
        guard let report else { return }
        let address = peer == .monitor ? monitors.current : judgedBackup
        switch report {
        case .unreachable(let silent, let reason), .stillUnreachable(let silent, let reason):
            var reminder = false
            if case .stillUnreachable = report { reminder = true }
            log(
                .peerUnreachable(
                    peer: peer.rawValue, address: address, seconds: Double(silent) / 1e9, reason: reason,
                    reminder: reminder))
        case .reachable(let after):
            log(.peerReachable(peer: peer.rawValue, address: address, seconds: Double(after) / 1e9))
        }
        environment.statusChanged(core)
        measurements?.peersReachable(monitor: !monitorReach.isInTrouble, backup: !backupReach.isInTrouble)
    }

    // MARK: - Readiness

    /// Calls `action` once the first ping has been answered or has failed (at once if it
    /// has): a server is ready once it listens and has tried to reach the monitor, never
    /// gated on a role.
    public func whenFirstPingSettled(_ action: @escaping () -> Void) {
        switch firstPing {
        case .waiting(var waiters):
            waiters.append(action)
            firstPing = .waiting(waiters)
        case .settled:
            action()
        }
    }

    private func settleFirstPing() {
        guard case .waiting(let waiters) = firstPing else { return }
        firstPing = .settled
        for waiter in waiters { waiter() }
    }

    // MARK: - Graceful leave

    /// Asks the monitor, in every ping from now on, to hand this server's role to another,
    /// and calls `completion` once a view without it arrives, once nobody can take over
    /// its data, once no monitor can be reached, or after `timeout` nanoseconds. The
    /// server keeps serving meanwhile: clients in flight are answered, or told to go to
    /// the new primary when the view changes.
    public func leave(timeout: UInt64, completion: @escaping (LeaveOutcome) -> Void) {
        switch leave {
        case .ended(let outcome):
            completion(outcome)
        case .leaving(var progress):
            progress.waiters.append(completion)
            leave = .leaving(progress)
        case .notLeaving:
            guard lifecycle == .running else { return completion(.timedOut(core.view)) }
            let deadline = environment.schedule(after: timeout) { [weak self] in
                guard let self else { return }
                self.endLeave(.timedOut(self.core.view))
            }
            leave = .leaving(LeaveProgress(waiters: [completion], deadline: deadline))
            run(step(.leave))
        }
    }

    private func checkLeave() {
        guard case .leaving(var progress) = leave else { return }
        if core.hasLeft {
            endLeave(.relieved(core.view))
        } else if core.role == .primary && core.view.backup.isEmpty && core.view.acked {
            progress.answersWithoutBackup += 1
            leave = .leaving(progress)
            if progress.answersWithoutBackup >= Self.answersBeforeGivingUp {
                endLeave(.nobodyToTakeOver(core.view))
            }
        } else {
            progress.answersWithoutBackup = 0
            leave = .leaving(progress)
        }
    }

    /// A monitor answered: they are not all gone, and one found unreachable before may be
    /// back, so the count of unreachable monitors starts afresh.
    private func monitorAnswered() {
        guard case .leaving(var progress) = leave, !progress.unreachableMonitors.isEmpty else { return }
        progress.unreachableMonitors.removeAll()
        leave = .leaving(progress)
    }

    /// A leaving ping to `monitor` got no answer. Once every monitor has been found
    /// unreachable in a row (nothing listens: all of them stopped, as when every unit is
    /// stopped at once), nobody can relieve this server, and the leave ends at once rather
    /// than at its timeout. A monitor that may be there but does not answer in time is
    /// waited for, as is any monitor when leaving would lose data that only a monitor
    /// coming back could save (`leavingLosesData`).
    private func leavingPingFailed(to monitor: String, _ failure: PeerFailure) {
        guard case .leaving(var progress) = leave else { return }
        guard case .unreachable = failure else {
            progress.unreachableMonitors.removeAll()
            leave = .leaving(progress)
            return
        }
        progress.unreachableMonitors.insert(monitor)
        leave = .leaving(progress)
        if progress.unreachableMonitors.isSuperset(of: configuration.monitors) && !leavingLosesData {
            endLeave(.monitorUnreachable(core.view, reason: "\(monitor): \(failure)"))
        }
    }

    /// Whether this server, without a data directory, serves the only complete copy of
    /// the data: a view without a backup, or one whose backup cannot be promoted yet (not
    /// synchronised, or the view not acknowledged). A server with a data directory keeps
    /// its data on disk; any other server's data is held by the primary or its backup.
    private var leavingLosesData: Bool {
        guard core.isServing, !configuration.core.durable else { return false }
        return core.view.backup.isEmpty || !core.view.acked || !core.backupSynchronized
    }

    private func endLeave(_ outcome: LeaveOutcome) {
        guard case .leaving(let progress) = leave else { return }
        leave = .ended(outcome)
        progress.deadline.cancel()
        for waiter in progress.waiters { waiter(outcome) }
    }

    // MARK: - Stopping

    /// Calls `action` once no request waits for its answer (at once if none does).
    public func whenIdle(_ action: @escaping () -> Void) {
        if pending.isEmpty { action() } else { whenIdle.append(action) }
    }

    /// Stops at once, as a crash would: no more ticks, pings or answers; every request
    /// still waiting is abandoned and a leave in progress ends as timed out.
    public func stop() {
        guard lifecycle != .stopped else { return }
        lifecycle = .stopped
        ticker?.cancel()
        ticker = nil
        for waiting in pending.removeAll() { environment.abandon(waiting.requester) }
        settleFirstPing()
        endLeave(.timedOut(core.view))
        releaseIdleWaiters()
    }

    private func releaseIdleWaiters() {
        guard !whenIdle.isEmpty else { return }
        let waiters = whenIdle
        whenIdle.removeAll()
        for waiter in waiters { waiter() }
    }
}
