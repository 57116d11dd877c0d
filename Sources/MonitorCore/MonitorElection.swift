import KVProtocol

/// Which of several monitors decides views, as a deterministic state machine
/// (docs/DESIGN.md §2.10): the monitors share one view in etcd, and the one holding the
/// leader key, on a lease it keeps alive, is the leader.
///
/// Like `MonitorCore`, `step` takes an event and the caller's clock and returns effects;
/// every store request is an effect whose completion comes back as an event. The rules:
/// - a leader counts its leadership valid only until the send time of its last answered
///   keep-alive (or of the grant) plus the lease, less a margin, on its own clock, and
///   steps down the moment that passes, whatever etcd says later;
/// - every view it writes is fenced on its token (the leader key's create_revision) and
///   on the view's last revision, and a refused or unanswered write is a step-down;
/// - a follower watches the keys, reads them again when the watch ends and every
///   `recheckInterval` in case it died silently, and campaigns when the leader key goes.
public struct MonitorElection: Sendable {
    public enum State: Equatable, Sendable {
        /// Not campaigning, reading nor leading: campaigns at `until` (after a failure,
        /// or at start).
        case waiting(until: UInt64)
        /// A campaign, started at `startedAt`, is in flight.
        case campaigning(startedAt: UInt64)
        case following(Following)
        case leading(Leadership)
    }

    public struct Following: Equatable, Sendable {
        public var leader: LeaderRecord
        var nextRecheckAt: UInt64
        var readInFlight = false
    }

    public struct Leadership: Equatable, Sendable {
        public var lease: Int64
        public var token: Int64
        /// Past this instant, the lease may have run out in etcd.
        public var validUntil: UInt64
        var leaseNanos: UInt64
        /// The view's last write: the next one is conditioned on it.
        var viewRevision: Int64
        var phase: Phase
        var keepAlive: KeepAlive

        enum Phase: Equatable {
            /// Writing the state file's view before deciding anything from it.
            case importing(View)
            case acting
        }

        enum KeepAlive: Equatable {
            case idle(lastSentAt: UInt64)
            case inFlight(sentAt: UInt64)
        }
    }

    public let config: ElectionConfig
    public private(set) var state: State = .waiting(until: 0)
    /// The view last read or written: what a follower answers view requests with.
    public private(set) var knownView: StoredView?
    /// Whether etcd answered the last request that could tell.
    public private(set) var storeReachable = false
    /// Whether a watch is running (it stops by ending, never by being forgotten).
    private var watching = false
    /// When the last watch was started: a watch that keeps ending at once is not
    /// restarted faster than a keep-alive interval.
    private var watchStartedAt: UInt64?
    /// The highest etcd revision this monitor has seen (a campaign, a read, the watch): a
    /// read answered later with a lower one is older than what is known, and ignored.
    private var seenRevision: Int64 = 0
    /// The state file's view, offered to etcd until it is written there or etcd is found
    /// holding one at least as new: after that, an etcd without a view has lost its keys,
    /// and this view is older than the last handed out.
    private var importCandidate: View?
    /// The lease of the last leadership, whose revocation may have been lost (etcd did
    /// not answer): revoked again once etcd answers, so that the key does not outlive it
    /// by a whole lease (etcd renews every lease when it gets its quorum back).
    private var leaseToRevokeAgain: Int64?

    public init(config: ElectionConfig) {
        self.config = config
        self.importCandidate = config.importedView
    }

    /// Whether this monitor decides views now.
    public var isLeading: Bool {
        if case .leading(let leadership) = state, leadership.phase == .acting { return true }
        return false
    }

    /// The leader as this monitor knows it: itself while leading, empty when it knows
    /// none (or the leader key still names this monitor's previous run).
    public var leaderAddress: String {
        switch state {
        case .leading: config.address
        case .following(let following) where following.leader.address != config.address:
            following.leader.address
        default: ""
        }
    }

    /// The write that saves `view` as the leader's next view, or nil when this monitor
    /// does not lead (its core is gone and nothing may be written).
    public func write(_ view: View) -> ElectionEffect? {
        guard case .leading(let leadership) = state, leadership.phase == .acting else { return nil }
        return .writeView(view, token: leadership.token, expectedRevision: leadership.viewRevision)
    }

    public mutating func step(_ event: ElectionEvent, at now: UInt64) -> [ElectionEffect] {
        var effects: [ElectionEffect] = []
        switch event {
        case .clock:
            clock(at: now, &effects)
        case .campaigned(let outcome):
            campaigned(outcome, at: now, &effects)
        case .campaignFailed(let error):
            guard case .campaigning = state else { break }
            storeFailed(error, &effects)
            state = .waiting(until: now + config.keepAliveInterval)
        case .read(let snapshot):
            read(snapshot, at: now, &effects)
        case .readFailed(let error):
            if case .following(var following) = state {
                following.readInFlight = false
                state = .following(following)
            }
            storeFailed(error, &effects)
        case .watched(let changes, let revision):
            seenRevision = max(seenRevision, revision)
            for change in changes { watched(change, at: now, &effects) }
        case .watchEnded:
            // A follower reads again (which restarts the watch from what it finds): the
            // watch may have missed the leader key's deletion. Not faster than a
            // keep-alive interval after the last start, or a watch that ends at once
            // would loop. A leader goes on without one: its watch only ever made it step
            // down sooner, and its validity and fenced writes do not depend on it.
            watching = false
            let soonest = (watchStartedAt ?? 0) + config.keepAliveInterval
            if case .following(var following) = state {
                following.nextRecheckAt = min(following.nextRecheckAt, max(now, soonest))
                state = .following(following)
                clock(at: now, &effects)
            }
        case .keepAliveAnswered(let lease, let alive):
            keepAliveAnswered(lease: lease, alive: alive, at: now, &effects)
        case .keepAliveFailed(let lease, let error):
            guard case .leading(var leadership) = state, leadership.lease == lease,
                case .inFlight = leadership.keepAlive
            else { break }
            // Tried again at the next clock; the validity decides when to give up.
            leadership.keepAlive = .idle(lastSentAt: 0)
            state = .leading(leadership)
            storeFailed(error, &effects)
        case .viewWritten(let view, let revision):
            viewWritten(view, revision: revision, &effects)
        case .viewWriteFailed(_, let error):
            guard case .leading = state else { break }
            stepDown("a view write was refused or not answered (\(error))", at: now, &effects)
        }
        return effects
    }

    // MARK: - Time

    private mutating func clock(at now: UInt64, _ effects: inout [ElectionEffect]) {
        switch state {
        case .waiting(let until) where now >= until:
            state = .campaigning(startedAt: now)
            effects.append(.campaign(leaseSeconds: config.leaseSeconds))
        case .following(var following) where now >= following.nextRecheckAt && !following.readInFlight:
            // The read also restarts the watch: one that died without a word (a member
            // powered off, no reset) is replaced at least once a lease.
            following.readInFlight = true
            following.nextRecheckAt = now + config.recheckInterval
            state = .following(following)
            effects.append(.read)
        case .leading(var leadership):
            guard now < leadership.validUntil else {
                stepDown("no keep-alive answered in time: the lease may have run out", at: now, &effects)
                return
            }
            if case .idle(let lastSentAt) = leadership.keepAlive, now >= lastSentAt + config.keepAliveInterval {
                leadership.keepAlive = .inFlight(sentAt: now)
                state = .leading(leadership)
                effects.append(.keepAlive(lease: leadership.lease))
            }
        default:
            break
        }
    }

    // MARK: - Campaigns and reads

    private mutating func campaigned(_ outcome: CampaignOutcome, at now: UInt64, _ effects: inout [ElectionEffect]) {
        guard case .campaigning(let startedAt) = state else {
            // Cannot happen (one campaign at a time, and only `campaigning` leaves by
            // this event); a won lease nobody keeps alive would merely expire.
            if case .won(let lease, _, _, _) = outcome { effects.append(.revoke(lease: lease)) }
            return
        }
        storeAnswered(&effects)
        switch outcome {
        case .won(let lease, let ttlSeconds, let token, let stored):
            seenRevision = max(seenRevision, token)
            let leaseNanos = UInt64(max(ttlSeconds, 1)) * 1_000_000_000
            // The lease counts from etcd's grant, which came after this send time.
            let validUntil = startedAt + leaseNanos - min(config.validityMargin, leaseNanos)
            knownView = stored ?? knownView
            var leadership = Leadership(
                lease: lease, token: token, validUntil: validUntil, leaseNanos: leaseNanos,
                viewRevision: stored?.revision ?? 0, phase: .acting, keepAlive: .idle(lastSentAt: startedAt))
            // A watch of the follower's days may still bring changes from before the
            // token (a lagging member): a new one starts after it.
            watching = false
            startWatching(after: token, at: now, &effects)
            if let candidate = importCandidate, candidate.viewnum <= (stored?.view.viewnum ?? 0) {
                importCandidate = nil
            }
            if let imported = importCandidate {
                leadership.phase = .importing(imported)
                state = .leading(leadership)
                effects.append(.writeView(imported, token: token, expectedRevision: leadership.viewRevision))
            } else {
                state = .leading(leadership)
                let view = stored?.view ?? .initial
                effects.append(.lead(view))
                effects.append(.notice(.becameLeader(token: token, view: view)))
            }
            clock(at: now, &effects)
        case .lost(let snapshot):
            seenRevision = max(seenRevision, snapshot.revision)
            knownView = snapshot.view ?? knownView
            startWatching(after: snapshot.revision, at: now, &effects)
            guard let leader = snapshot.leader else {
                // The key went between the compare and now; campaign again at once.
                state = .waiting(until: now)
                return
            }
            follow(leader, at: now, &effects)
        }
    }

    private mutating func read(_ snapshot: ControlPlaneSnapshot, at now: UInt64, _ effects: inout [ElectionEffect]) {
        storeAnswered(&effects)
        guard snapshot.revision >= seenRevision else {
            // Sent before something this monitor has seen since (a campaign it won, a
            // change the watch brought): acting on it would undo newer knowledge.
            if case .following(var following) = state {
                following.readInFlight = false
                state = .following(following)
            }
            return
        }
        seenRevision = snapshot.revision
        watching = false
        startWatching(after: snapshot.revision, at: now, &effects)
        switch state {
        case .following(var following):
            following.readInFlight = false
            state = .following(following)
            knownView = snapshot.view ?? knownView
            if let leader = snapshot.leader {
                follow(leader, at: now, &effects)
            } else {
                state = .campaigning(startedAt: now)
                effects.append(.campaign(leaseSeconds: config.leaseSeconds))
            }
        case .leading(let leadership):
            if snapshot.leader?.createRevision != leadership.token {
                stepDown("the leader key is no longer this monitor's", at: now, &effects)
            }
        default:
            knownView = snapshot.view ?? knownView
        }
    }

    private mutating func watched(_ change: ControlPlaneChange, at now: UInt64, _ effects: inout [ElectionEffect]) {
        switch (change, state) {
        case (.viewSet, .leading):
            // This leader's own writes coming back (perhaps before their answers); a
            // write by anyone else would have made its own next write fail.
            break
        case (.viewSet(let stored), _):
            knownView = stored
        case (.leaderSet(let leader), .leading(let leadership)) where leader.createRevision != leadership.token:
            stepDown("another monitor holds the leader key", at: now, &effects)
        case (.leaderSet(let leader), .following), (.leaderSet(let leader), .waiting):
            follow(leader, at: now, &effects)
        case (.leaderGone, .leading):
            stepDown("the leader key is gone from etcd (its lease ran out there)", at: now, &effects)
        case (.leaderGone, .following), (.leaderGone, .waiting):
            state = .campaigning(startedAt: now)
            effects.append(.campaign(leaseSeconds: config.leaseSeconds))
        default:
            break
        }
    }

    private mutating func follow(_ leader: LeaderRecord, at now: UInt64, _ effects: inout [ElectionEffect]) {
        var following = Following(leader: leader, nextRecheckAt: now + config.recheckInterval)
        if case .following(let previous) = state {
            following.readInFlight = previous.readInFlight
            following.nextRecheckAt = previous.nextRecheckAt
            if previous.leader == leader {
                state = .following(following)
                return
            }
        }
        state = .following(following)
        effects.append(.notice(.following(leader: leader.address)))
    }

    private mutating func startWatching(after revision: Int64, at now: UInt64, _ effects: inout [ElectionEffect]) {
        guard !watching else { return }
        watching = true
        watchStartedAt = now
        effects.append(.watch(fromRevision: revision + 1))
    }

    // MARK: - Leading

    private mutating func keepAliveAnswered(
        lease: Int64, alive: Bool, at now: UInt64, _ effects: inout [ElectionEffect]
    ) {
        guard case .leading(var leadership) = state, leadership.lease == lease,
            case .inFlight(let sentAt) = leadership.keepAlive
        else { return }
        storeAnswered(&effects)
        guard alive else {
            stepDown("etcd says the lease is gone", at: now, &effects)
            return
        }
        let margin = min(config.validityMargin, leadership.leaseNanos)
        leadership.validUntil = max(leadership.validUntil, sentAt + leadership.leaseNanos - margin)
        leadership.keepAlive = .idle(lastSentAt: sentAt)
        state = .leading(leadership)
    }

    private mutating func viewWritten(_ view: View, revision: Int64, _ effects: inout [ElectionEffect]) {
        guard case .leading(var leadership) = state else { return }
        leadership.viewRevision = revision
        knownView = StoredView(view: view, revision: revision)
        if case .importing(let imported) = leadership.phase, imported == view {
            importCandidate = nil
            leadership.phase = .acting
            effects.append(.notice(.viewImported(view)))
            effects.append(.lead(view))
            effects.append(.notice(.becameLeader(token: leadership.token, view: view)))
        }
        state = .leading(leadership)
    }

    private mutating func stepDown(_ reason: String, at now: UInt64, _ effects: inout [ElectionEffect]) {
        guard case .leading(let leadership) = state else { return }
        // Also while importing (no core yet): the driver counts leaderships by it.
        effects.append(.stopLeading)
        effects.append(.revoke(lease: leadership.lease))
        leaseToRevokeAgain = leadership.lease
        effects.append(.notice(.steppedDown(reason: reason)))
        // Not at once: the revocation should land first, and a monitor cut off from etcd
        // would only fail again.
        state = .waiting(until: now + config.keepAliveInterval)
    }

    // MARK: - Reachability

    private mutating func storeFailed(_ error: String, _ effects: inout [ElectionEffect]) {
        guard storeReachable || !reportedUnreachable else { return }
        storeReachable = false
        reportedUnreachable = true
        effects.append(.notice(.storeUnavailable(error)))
    }

    private mutating func storeAnswered(_ effects: inout [ElectionEffect]) {
        guard !storeReachable else { return }
        storeReachable = true
        if reportedUnreachable {
            reportedUnreachable = false
            effects.append(.notice(.storeAvailable))
            if let lease = leaseToRevokeAgain, !isHolding(lease) {
                effects.append(.revoke(lease: lease))
            }
        }
        leaseToRevokeAgain = nil
    }

    private func isHolding(_ lease: Int64) -> Bool {
        if case .leading(let leadership) = state { return leadership.lease == lease }
        return false
    }

    /// Whether `storeUnavailable` was reported and not yet answered by `storeAvailable`.
    private var reportedUnreachable = false
}
