import KVProtocol

/// The key/value server's replication logic as a deterministic state machine
/// (docs/DESIGN.md §3).
///
/// `step` takes one event and returns the effects the driver must carry out. Nothing
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
///
/// What the server does in its view is `duty`, an enum carrying that duty's state; the
/// primary's requests and replies in flight are in `pipeline`. `checkInvariants` states
/// how the two agree with the view and the data, after every step.
public struct ServerCore {
    public let config: ServerConfig
    public internal(set) var view: View = .initial
    public internal(set) var store: [Bytes: Bytes] = [:]
    public internal(set) var duplicates: DuplicateTable
    /// Bytes of keys and values in `store`.
    public internal(set) var storeBytes = 0
    public internal(set) var counters = ServerCounters()

    var data: DataState = .empty
    var duty: Duty = .idle
    var pipeline = PrimaryPipeline()
    /// As primary: the highest view whose backup holds the whole state.
    var ackedViewnum: UInt64 = 0
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
    public var isServing: Bool { duty == .primary(.serving) }

    /// Whether the primary's backup holds the whole state (or there is no backup).
    public var backupSynchronized: Bool {
        guard case .primary = duty else { return false }
        guard let stream = pipeline.stream else { return view.backup.isEmpty }
        return stream.isStreaming
    }

    /// The view number this server reports to the monitor in its next ping.
    public var pingViewnum: UInt64 {
        switch duty {
        case .primary(.refusing): 0
        case .primary(.awaitingFirstAck): view.viewnum
        case .primary: ackedViewnum
        case .idle, .backup: view.viewnum
        }
    }

    /// Leaving, and the latest view gives this server no role: nobody depends on it
    /// any more. (A primary whose view has no backup cannot hand over; the driver
    /// decides how long to wait for one.)
    public var hasLeft: Bool { leaving && role == .idle }

    public var pendingReplies: Int { pipeline.held.count }
    public var deferredRequests: Int { pipeline.deferred.count }

    /// As backup: what it has received from the primary of its view.
    var incoming: IncomingStream? {
        if case .backup(let stream) = duty { return stream }
        return nil
    }

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
        checkInvariants()
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
            if duty == .primary(.awaitingFirstAck) {
                data = .current
                duty = .primary(.serving)
                startReplication(&effects)
            }
            return
        }

        let old = view
        let oldRole = role(in: old)
        let oldDuty = duty
        view = newView
        let newRole = role(in: newView)
        effects.append(.notice(.viewChanged(from: old, to: newView)))
        if oldRole != newRole {
            effects.append(.notice(.roleChanged(from: oldRole, to: newRole, view: newView)))
        }

        guard newRole == .primary else {
            if oldRole == .primary { abandonPrimaryRole(&effects) }
            if data == .current { data = .stale }
            duty = newRole == .backup ? .backup(nil) : .idle
            return
        }

        let continuing = oldRole == .primary && data == .current && old.viewnum > 0
        var promoted = false
        if case .backup(let received?) = oldDuty {
            promoted = received.holdsWholeState(of: old.viewnum, from: old.primary)
        }
        let firstOfCluster = data == .empty && newView.viewnum == 1
        // The primary of view 1 waiting for the monitor's confirmation may never see
        // "view 1 acked": the monitor saves the acknowledgement, then at once makes an
        // idle server backup of view 2, and answers the acknowledging ping (held while it
        // saves) only then, with view 2. The monitor leaves an unacknowledged view only to replace a dead backup,
        // and view 1 has none, so a later view naming this server primary proves that its
        // own ping acknowledged view 1 (nothing was served before: it still holds the
        // state). Refusing here would leave view 2 unacknowledged for ever (its primary
        // pinging 0).
        let confirmedFirst = oldDuty == .primary(.awaitingFirstAck) && old.viewnum == 1
        if continuing || promoted || confirmedFirst {
            data = .current
            duty = .primary(.serving)
            ackedViewnum = max(ackedViewnum, old.viewnum)
            startReplication(&effects)
        } else if firstOfCluster && !newView.acked {
            // Serve only once the monitor confirms the acknowledgement: had this server
            // served first and restarted, its empty successor would see the same
            // unacknowledged view 1 and could not tell it apart from a new cluster.
            duty = .primary(.awaitingFirstAck)
        } else {
            let reason =
                data == .empty
                ? "restarted without data: the view's data is on its backup, if anyone"
                : "not the primary or synchronised backup of view \(old.viewnum)"
            duty = .primary(.refusing)
            if data == .current { data = .stale }
            effects.append(.notice(.refusedPrimary(view: newView, reason: reason)))
            abandonPrimaryRole(&effects)
        }
    }

    mutating func requestPing(_ effects: inout [ServerEffect]) {
        guard !pingRequestedThisTick else { return }
        pingRequestedThisTick = true
        effects.append(.ping(viewnum: pingViewnum, leaving: leaving))
    }

    // MARK: - Invariants

    /// How `duty`, `pipeline` and `data` agree with the view, after every step. Cheap
    /// (a handful of comparisons) so that it runs in production too: a violation is a bug,
    /// and a server that stops is replaced by its backup with nothing acknowledged lost.
    func checkInvariants() {
        switch duty {
        case .idle:
            precondition(role == .idle, "idle, but \(role) of \(view)")
            precondition(pipeline.isEmpty, "an idle server holds client requests")
            precondition(data != .current, "an idle server claims the current state")
        case .backup(let stream):
            precondition(role == .backup, "backup, but \(role) of \(view)")
            precondition(pipeline.isEmpty, "a backup holds client requests")
            precondition(data != .current, "a backup claims the current state")
            precondition(stream.map { $0.viewnum == view.viewnum } ?? true, "a stream of another view")
        case .primary(let phase):
            precondition(role == .primary, "primary, but \(role) of \(view)")
            switch phase {
            case .serving:
                precondition(data == .current, "serving without the current state")
                if pipeline.stream != nil {
                    precondition(
                        pipeline.stream!.viewnum == view.viewnum && pipeline.stream!.backup == view.backup,
                        "the stream to the backup belongs to another view than \(view)")
                } else {
                    precondition(view.backup.isEmpty, "\(view) has a backup, but no stream goes to it")
                    precondition(pipeline.held.isEmpty, "replies held with no backup to acknowledge them")
                }
            case .awaitingFirstAck:
                precondition(data == .empty, "awaiting the first acknowledgement with data")
                precondition(pipeline.stream == nil && pipeline.held.isEmpty, "replicating before serving")
            case .fenced:
                precondition(data == .current, "fenced without the current state")
                precondition(pipeline.isEmpty, "a fenced primary holds client requests")
            case .refusing:
                precondition(data != .current, "refusing while holding the current state")
                precondition(pipeline.isEmpty, "a refusing primary holds client requests")
            }
        }
        precondition(
            pipeline.openUpdates.isEmpty || pipeline.stream?.isStreaming == true, "updates gathered with no batch to go"
        )
    }
}
