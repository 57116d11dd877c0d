import KVProtocol

/// The key/value server's replication logic as a deterministic state machine (DESIGN §3).
///
/// `step` takes one event and returns the effects the runtime must carry out. Nothing
/// here reads a clock, does I/O or blocks; time arrives as `.tick`.
///
/// Safety rests on three rules enforced here:
/// - a reply that could reveal an update leaves only after the backup of the same view
///   has acknowledged it (or the view has no backup) — Gets included, so a primary that
///   lost its role learns it from the backup's refusal instead of answering stale data;
/// - the primary acknowledges a view to the monitor only once its backup holds the whole
///   state, so the monitor never promotes a backup that lacks data;
/// - a server acts as primary only when it can prove it holds the current state: it was
///   primary of the previous view it knew, or the complete-transfer backup of it, or it
///   is the very first primary of a new cluster.
public struct ServerCore {
    enum DataState: Equatable {
        /// Just started: nothing stored, never part of a view.
        case empty
        /// Holds the state of the view it serves as primary.
        case current
        /// Was dropped from a role; what it holds may be behind.
        case stale
    }

    public let config: ServerConfig
    public internal(set) var view: View = .initial
    public internal(set) var store: [Bytes: Bytes] = [:]
    public internal(set) var duplicates: DuplicateTable
    /// Bytes of keys and values in `store`.
    public internal(set) var storeBytes = 0
    public internal(set) var counters = ServerCounters()

    var data: DataState = .empty
    /// Primary of view 1 of a new cluster, waiting for the monitor to confirm the
    /// acknowledgement before serving (a restart before that must not look fresh).
    var awaitingFirstAck = false
    /// The view in which this server refuses to act as primary.
    var refusedViewnum: UInt64?
    /// The view in which the backup refused this primary.
    var fencedViewnum: UInt64?
    /// As primary: the highest view whose backup holds the whole state.
    var ackedViewnum: UInt64 = 0
    var outgoing: OutgoingStream?
    /// Updates waiting for the next batch to the backup (of `outgoing`). Kept here rather
    /// than in `outgoing`, where every request's append copied the whole array: the
    /// optional stream is copied around (`guard var stream = outgoing`), so its arrays are
    /// rarely uniquely referenced when appended to.
    var openUpdates: [ForwardedUpdate] = []
    var openBytes = 0
    var incoming: IncomingStream?
    var waiting: [WaitingReply] = []
    var waitingHead = 0
    var deferred: [(request: ClientRequest, token: ReplyToken)] = []
    var nextTransferID: UInt64 = 1
    var pingRequestedThisTick = false
    /// Shutting down: asks the monitor to be relieved (see `ServerEvent.leave`).
    public internal(set) var leaving = false

    public init(config: ServerConfig) {
        self.config = config
        self.duplicates = DuplicateTable(capacity: config.duplicateTableCapacity)
    }

    public var address: String { config.address }

    public var role: ServerInfo.Role { role(in: view) }

    func role(in view: View) -> ServerInfo.Role {
        if view.primary == address { return .primary }
        if view.backup == address { return .backup }
        return .idle
    }

    /// Whether client requests are being answered (as primary, with the current state).
    public var isServing: Bool {
        role == .primary && data == .current && !awaitingFirstAck && refusedViewnum != view.viewnum
            && fencedViewnum != view.viewnum
    }

    /// Whether the primary's backup holds the whole state (or there is no backup).
    public var backupSynchronized: Bool {
        guard role == .primary else { return false }
        guard let outgoing else { return view.backup.isEmpty }
        return outgoing.isStreaming
    }

    /// The view number this server reports to the monitor in its next ping.
    public var pingViewnum: UInt64 {
        guard role == .primary else { return view.viewnum }
        if refusedViewnum == view.viewnum { return 0 }
        if awaitingFirstAck { return view.viewnum }
        return ackedViewnum
    }

    /// Leaving, and the latest view gives this server no role: nobody depends on it
    /// any more. (A primary whose view has no backup cannot hand over; the runtime
    /// decides how long to wait for one.)
    public var hasLeft: Bool { leaving && role == .idle }

    public var pendingReplies: Int { waiting.count - waitingHead }
    public var deferredRequests: Int { deferred.count }

    public mutating func step(_ event: ServerEvent) -> [ServerEffect] {
        var effects: [ServerEffect] = []
        switch event {
        case .clientRequest(let request, let token):
            handleClientRequest(request, token, &effects)
        case .forward(let batch, let token):
            receiveForward(batch, token, &effects)
        case .transfer(let chunk, let token):
            receiveChunk(chunk, token, &effects)
        case .viewFromMonitor(let newView):
            observe(newView, &effects)
        case .backupReplied(let id, let ack):
            handleBackupReply(id, ack, &effects)
        case .tick:
            pingRequestedThisTick = false
            effects.append(.ping(viewnum: pingViewnum, leaving: leaving))
            tickReplication(&effects)
        case .leave:
            guard !leaving else { break }
            leaving = true
            effects.append(.notice(.leaving(role: role, view: view)))
            // At once, not at the next tick: a shutdown is waiting on the answer.
            effects.append(.ping(viewnum: pingViewnum, leaving: true))
        }
        return effects
    }

    // MARK: - Views

    mutating func observe(_ newView: View, _ effects: inout [ServerEffect]) {
        guard newView.viewnum >= view.viewnum else { return }
        if newView.viewnum == view.viewnum {
            guard newView == View(viewnum: view.viewnum, primary: view.primary, backup: view.backup, acked: true),
                !view.acked
            else { return }
            view.acked = true
            if awaitingFirstAck && role == .primary {
                awaitingFirstAck = false
                data = .current
                startReplication(&effects)
            }
            return
        }

        let old = view
        let oldRole = role(in: old)
        // Captured before it is reset below (see `confirmedFirst`).
        let wasAwaitingFirstAck = awaitingFirstAck
        view = newView
        let newRole = role(in: newView)
        fencedViewnum = nil
        awaitingFirstAck = false
        effects.append(.notice(.viewChanged(from: old, to: newView)))
        if oldRole != newRole {
            effects.append(.notice(.roleChanged(from: oldRole, to: newRole, view: newView)))
        }

        guard newRole == .primary else {
            if oldRole == .primary { abandonPrimaryRole(&effects) }
            if data == .current { data = .stale }
            return
        }

        let continuing = oldRole == .primary && data == .current && old.viewnum > 0
        let promoted =
            oldRole == .backup
            && incoming.map { $0.complete && $0.viewnum == old.viewnum && $0.from == old.primary }
                ?? false
        let firstOfCluster = data == .empty && newView.viewnum == 1
        // Fix: the primary of view 1 waiting for the monitor's confirmation may never see
        // "view 1 acked": the monitor handles the acknowledging ping and, in the same call,
        // makes an idle server backup of view 2, so the ping's reply is already view 2.
        // The monitor leaves an unacknowledged view only to replace a dead backup, and
        // view 1 has none, so a later view naming this server primary proves that its own
        // ping acknowledged view 1 (nothing was served before: it still holds the state).
        // Refusing here would leave view 2 unacknowledged forever (its primary pinging 0).
        let confirmedFirst = wasAwaitingFirstAck && oldRole == .primary && old.viewnum == 1
        if continuing || promoted || confirmedFirst {
            data = .current
            ackedViewnum = max(ackedViewnum, old.viewnum)
            startReplication(&effects)
        } else if firstOfCluster && !newView.acked {
            // Serve only once the monitor confirms the acknowledgement: had this server
            // served first and restarted, its empty successor would see the same
            // unacknowledged view 1 and could not tell it apart from a new cluster.
            awaitingFirstAck = true
        } else {
            refusedViewnum = newView.viewnum
            if data == .current { data = .stale }
            let reason =
                data == .empty
                ? "restarted without data: the view's data is on its backup, if anyone"
                : "not the primary or synchronised backup of view \(old.viewnum)"
            effects.append(.notice(.refusedPrimary(view: newView, reason: reason)))
            abandonPrimaryRole(&effects)
        }
    }

    /// Tells every waiting or deferred client to go to the new primary.
    mutating func abandonPrimaryRole(_ effects: inout [ServerEffect]) {
        for index in waitingHead..<waiting.count {
            effects.append(.reply(waiting[index].token, .wrongServer))
        }
        waiting.removeAll(keepingCapacity: true)
        waitingHead = 0
        for item in deferred { effects.append(.reply(item.token, .wrongServer)) }
        deferred.removeAll(keepingCapacity: true)
        endStream()
    }

    /// Drops the stream to the backup with the batch it was gathering: those updates are
    /// in the store, so a new backup gets them with its transfer and nobody else needs them.
    mutating func endStream() {
        outgoing = nil
        openUpdates = []
        openBytes = 0
    }

    mutating func requestPing(_ effects: inout [ServerEffect]) {
        guard !pingRequestedThisTick else { return }
        pingRequestedThisTick = true
        effects.append(.ping(viewnum: pingViewnum, leaving: leaving))
    }
}
