import KVProtocol
import MonitorCore

/// Runs a `MonitorCore` in an environment: feeds it requests, ticks and the completions
/// of its saves, and carries out its effects (docs/DESIGN.md §7). The daemon runs it over
/// SwiftNIO (saves on a thread pool, or in etcd) and the simulator over its simulated
/// network and stores.
///
/// A sole monitor's core runs from start to stop. One of several monitors sharing a view
/// in etcd also runs a `MonitorElection`, and has a core only while it leads: the core
/// is made from the view etcd holds when leadership begins (every server gets a full
/// grace period, as after a restart) and dropped when it ends; meanwhile the monitor
/// sends servers to the leader and answers view requests with the view it last read
/// (§2.10).
///
/// Not thread-safe: everything happens on the environment's one thread.
public final class MonitorDriver<Environment: MonitorEnvironment> {
    public let environment: Environment
    public let measurements: (any MonitorMeasurements)?
    /// The core deciding views: always for a sole monitor, while leading for one of
    /// several.
    public private(set) var core: MonitorCore?
    public private(set) var election: MonitorElection?
    private let config: MonitorConfig
    private let store: (any ElectionStore)?
    private let tickInterval: UInt64
    private var pending: [UInt64: Environment.Requester] = [:]
    private var nextToken: UInt64 = 1
    private var ticker: Environment.Timer?
    private var lifecycle = Lifecycle.created
    /// Counts leaderships, so that a write answered after its leadership ended is not
    /// taken for the next one's.
    private var leadership: UInt64 = 0
    private var watch: (any ElectionStoreWatch)?
    /// Counts watches, so that a replaced watch's late reports are dropped.
    private var watchNumber: UInt64 = 0
    /// Whether the last save of a sole monitor's view failed.
    private var lastSaveFailed = false

    /// Requests are taken from creation on (the listener may hand them over before the
    /// first tick); ticks run from `start()`; nothing runs after `stop()`.
    private enum Lifecycle {
        case created
        case running
        case stopped
    }

    /// - Parameters:
    ///   - tickInterval: nanoseconds between ticks (the servers' ping interval).
    ///   - restoredView: the view kept by a previous run of a sole monitor, if any.
    ///   - election: for one of several monitors, its election's timing and the store
    ///     they share; nil for a sole monitor.
    public init(
        config: MonitorConfig, tickInterval: UInt64, restoredView: View?, environment: Environment,
        measurements: (any MonitorMeasurements)? = nil,
        election: (config: ElectionConfig, store: any ElectionStore)? = nil
    ) {
        self.environment = environment
        self.measurements = measurements
        self.tickInterval = tickInterval
        self.config = config
        self.store = election?.store
        if let election {
            self.election = MonitorElection(config: election.config)
        } else {
            self.core = MonitorCore(config: config, restoredView: restoredView, now: environment.now / 1_000_000)
        }
    }

    /// Starts ticking, the first tick one interval from now (and, for one of several
    /// monitors, campaigns at once).
    public func start() {
        precondition(lifecycle == .created, "a driver starts once")
        lifecycle = .running
        ticker = environment.scheduleRepeated(initialDelay: tickInterval, every: tickInterval) { [weak self] in
            self?.tick()
        }
        if election != nil { stepElection(.clock) }
    }

    // MARK: - Reports

    /// The view this monitor holds: in force, or (a follower's) last read.
    public var view: View { core?.view ?? election?.knownView?.view ?? .initial }

    public func servers(at now: UInt64) -> [ServerInfo] { core?.servers(at: now) ?? [] }

    public var status: MonitorStatus {
        guard let election else {
            return MonitorStatus(
                role: .sole, leader: "", view: view, storeReachable: !lastSaveFailed,
                waitingFor: core?.waitingForRevival ?? "")
        }
        return MonitorStatus(
            role: election.isLeading ? .leader : .follower, leader: election.leaderAddress, view: view,
            storeReachable: election.storeReachable, waitingFor: core?.waitingForRevival ?? "")
    }

    private func report(at now: UInt64) -> MonitorReport {
        MonitorReport(status: status, liveServers: core?.servers(at: now).filter(\.alive).count ?? 0)
    }

    // MARK: - Requests

    /// A request for the monitor. Returns false, without touching `requester`, for a
    /// message a monitor does not take.
    public func receive(_ message: Message, from requester: Environment.Requester) -> Bool {
        let event: (ReplyToken) -> MonitorEvent
        switch message {
        case .ping(let address, let viewnum, let leaving, let incarnation, let claim):
            measurements?.pinged()
            event = {
                .ping(from: address, viewnum: viewnum, leaving: leaving, incarnation: incarnation, claim: claim, $0)
            }
        case .getView:
            event = { .viewRequest($0) }
        case .listServers:
            event = { .serversRequest($0) }
        case .switchover(let viewnum):
            event = { .switchover(expectedViewnum: viewnum, $0) }
        case .revive(let address, let viewnum):
            event = { .revive(address: address, expectedViewnum: viewnum, $0) }
        case .monitorInfo:
            guard lifecycle != .stopped else {
                environment.abandon(requester)
                return true
            }
            // A leader whose validity just passed must not report itself leading.
            if election?.isLeading == true { stepElection(.clock) }
            environment.respond(to: requester, with: .monitorInfoReply(status))
            return true
        default:
            return false
        }
        guard lifecycle != .stopped else {
            environment.abandon(requester)
            return true
        }
        // A leader whose validity just passed must not answer from its core: the clock
        // is checked at every request, not only at ticks.
        if election?.isLeading == true { stepElection(.clock) }
        guard core != nil else {
            environment.respond(to: requester, with: followerAnswer(to: message))
            return true
        }
        let token = nextToken
        nextToken += 1
        pending[token] = requester
        step(event(ReplyToken(token)))
        return true
    }

    /// What a monitor that does not lead answers: the view it last read to a view
    /// request, the leader's address to everything else.
    private func followerAnswer(to message: Message) -> Message {
        // Without its cluster id, as the leader answers clients (MonitorCore).
        if case .getView = message, let known = election?.knownView { return .viewReply(known.view.withoutCluster) }
        return .notLeader(leader: election?.leaderAddress ?? "")
    }

    private func tick() {
        guard lifecycle == .running else { return }
        if election != nil { stepElection(.clock) }
        if core != nil { step(.tick) }
        let now = environment.now / 1_000_000
        let report = report(at: now)
        measurements?.update(report.status, liveServers: report.liveServers)
        environment.ticked(report)
    }

    // MARK: - The core

    private func step(_ event: MonitorEvent) {
        guard core != nil else { return }
        let now = environment.now / 1_000_000
        var viewChanged = false
        for effect in core!.step(event, at: now) {
            switch effect {
            case .reply(let token, let message):
                guard let requester = pending.removeValue(forKey: token.raw) else { continue }
                environment.respond(to: requester, with: message)
            case .saveView(let view):
                save(view)
            case .notice(let notice):
                environment.log(notice)
                switch notice {
                case .viewChanged:
                    measurements?.viewChanged()
                    viewChanged = true
                case .viewAcknowledged:
                    viewChanged = true
                default:
                    break
                }
            }
        }
        if viewChanged { environment.viewChanged(report(at: now)) }
    }

    /// Saves a view the core decided: in the sole monitor's store, or in etcd with a
    /// write fenced on this leadership.
    private func save(_ view: View) {
        guard let store, let election else {
            environment.save(view) { [weak self] error in
                guard let self, self.lifecycle != .stopped else { return }
                self.lastSaveFailed = error != nil
                self.step(error.map { .viewNotSaved(view, error: $0) } ?? .viewSaved(view))
            }
            return
        }
        guard case .writeView(_, let token, let expected) = election.write(view) else {
            step(.viewNotSaved(view, error: "this monitor no longer leads"))
            return
        }
        writeFenced(view, token: token, expectedRevision: expected, store: store, decidedByCore: true)
    }

    /// Writes `view` fenced on this leadership; the answer goes to the election and, for a
    /// view the core decided, to the core as well while the leadership still holds. A
    /// failure makes the election step down, which drops the core: whatever waited on
    /// the save is sent to the leader.
    private func writeFenced(
        _ view: View, token: Int64, expectedRevision: Int64, store: any ElectionStore, decidedByCore: Bool
    ) {
        let leadership = self.leadership
        store.write(view, token: token, expectedRevision: expectedRevision) { [weak self] result in
            guard let self, self.lifecycle != .stopped, self.leadership == leadership else { return }
            switch result {
            case .success(let revision):
                self.stepElection(.viewWritten(view, revision: revision))
                guard decidedByCore else { return }
                // The leadership may have run out while the write was on its way: the
                // view is then not handed out (another leader may have moved past it).
                self.stepElection(.clock)
                guard self.leadership == leadership else { return }
                self.step(.viewSaved(view))
            case .failure(let error):
                self.stepElection(.viewWriteFailed(view, error: error.description))
            }
        }
    }

    // MARK: - The election

    private func stepElection(_ event: ElectionEvent) {
        guard election != nil, let store else { return }
        let now = environment.now
        for effect in election!.step(event, at: now) {
            switch effect {
            case .campaign(let seconds):
                store.campaign(address: election!.config.address, leaseSeconds: seconds) { [weak self, store] result in
                    guard let self, self.lifecycle != .stopped else {
                        // Won as the monitor stopped: nobody keeps the lease alive, and the
                        // other monitors should not wait for it to run out.
                        if case .success(.won(let lease, _, _, _)) = result { store.revoke(lease: lease) }
                        return
                    }
                    switch result {
                    case .success(let outcome): self.stepElection(.campaigned(outcome))
                    case .failure(let error): self.stepElection(.campaignFailed(error.description))
                    }
                }
            case .read:
                store.read { [weak self] result in
                    guard let self, self.lifecycle != .stopped else { return }
                    switch result {
                    case .success(let snapshot): self.stepElection(.read(snapshot))
                    case .failure(let error): self.stepElection(.readFailed(error.description))
                    }
                }
            case .watch(let revision):
                startWatch(from: revision, store: store)
            case .keepAlive(let lease):
                store.keepAlive(lease: lease) { [weak self] result in
                    guard let self, self.lifecycle != .stopped else { return }
                    switch result {
                    case .success(let alive): self.stepElection(.keepAliveAnswered(lease: lease, alive: alive))
                    case .failure(let error):
                        self.stepElection(.keepAliveFailed(lease: lease, error: error.description))
                    }
                }
            case .revoke(let lease):
                store.revoke(lease: lease)
            case .writeView(let view, let token, let expected):
                // The import of the state file's view, before the core exists.
                writeFenced(view, token: token, expectedRevision: expected, store: store, decidedByCore: false)
            case .lead(let view):
                leadership += 1
                core = MonitorCore(config: config, restoredView: view, now: now / 1_000_000)
                environment.viewChanged(report(at: now / 1_000_000))
            case .stopLeading:
                leadership += 1
                core = nil
                // In token order (the order of arrival), not the table's, which the
                // process's hash seed decides: a simulation replays the same in any process.
                let waiting = pending.sorted { $0.key < $1.key }.map(\.value)
                pending.removeAll()
                for requester in waiting {
                    environment.respond(to: requester, with: .notLeader(leader: election!.leaderAddress))
                }
                environment.viewChanged(report(at: now / 1_000_000))
            case .notice(let notice):
                environment.log(notice)
                switch notice {
                case .following: environment.viewChanged(report(at: now / 1_000_000))
                case .viewImported(let view): environment.imported(view)
                default: break
                }
            }
        }
    }

    private func startWatch(from revision: Int64, store: any ElectionStore) {
        watch?.cancel()
        watchNumber += 1
        let number = watchNumber
        watch = store.watch(
            fromRevision: revision,
            onChanges: { [weak self] changes, revision in
                guard let self, self.lifecycle != .stopped, self.watchNumber == number else { return }
                self.stepElection(.watched(changes, revision: revision))
            },
            onEnd: { [weak self] error in
                guard let self, self.lifecycle != .stopped, self.watchNumber == number else { return }
                self.watch = nil
                self.stepElection(.watchEnded(error.description))
            })
    }

    /// Stops ticking and answering; every request still waiting is abandoned, and a save
    /// in flight completes unseen (whether it landed is for the next run to find). A
    /// leader's lease is revoked, so that another monitor need not wait for it to run out.
    public func stop(revokingLease: Bool = true) {
        guard lifecycle != .stopped else { return }
        lifecycle = .stopped
        ticker?.cancel()
        ticker = nil
        watch?.cancel()
        watch = nil
        if revokingLease, case .leading(let leadership) = election?.state { store?.revoke(lease: leadership.lease) }
        let abandoned = pending.sorted { $0.key < $1.key }.map(\.value)
        pending.removeAll()
        for requester in abandoned { environment.abandon(requester) }
    }
}

/// What a monitor reports at each tick and view change (for `STATUS=`, metrics).
public struct MonitorReport: Equatable, Sendable {
    public var status: MonitorStatus
    public var liveServers: Int

    public init(status: MonitorStatus, liveServers: Int) {
        self.status = status
        self.liveServers = liveServers
    }
}
