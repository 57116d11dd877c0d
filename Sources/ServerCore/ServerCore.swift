import KVProtocol

/// The key/value server's replication logic as a deterministic state machine
/// (docs/DESIGN.md §3).
///
/// `step` takes one event and returns the effects the driver must carry out. Nothing
/// here reads a clock, does I/O or blocks; the driver passes the clocks' readings in.
///
/// Safety rests on three rules enforced here:
/// - a reply that could reveal an update leaves only after the backup of the same view
///   has acknowledged it (or the view has no backup) — Gets included, so a primary that
///   lost its role learns it from the backup's refusal instead of answering stale data,
///   except a Get of a settled key under the backup's read lease (docs/DESIGN.md §3.14);
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
    public internal(set) var store = KeyValueStore()
    public internal(set) var duplicates: DuplicateTable
    /// Bytes of keys and values in `store`.
    public var storeBytes: Int { store.bytes }
    /// The wall clock (Unix milliseconds) as the driver last passed it in, never moving
    /// back: a key's deadline is checked against it, and a key once expired stays so.
    public internal(set) var now: UInt64 = 0
    /// The lease clock (nanoseconds; `CLOCK_BOOTTIME` in the daemon, which keeps counting
    /// while the machine is suspended) as the driver last passed it in, never moving back.
    public internal(set) var clock: UInt64 = 0
    public internal(set) var counters = ServerCounters()
    /// As primary: the read lease its backup granted (docs/DESIGN.md §3.14).
    var readLease = ReadLease.none
    /// As backup, and since it started: until when it must not act as primary.
    var grants: LeaseGrants
    /// The end, on the lease clock, of every promise not to act as primary (the lease
    /// it granted as backup, the wait after it started).
    public var leasePromisedUntil: UInt64 { grants.until }

    /// The end of this server's promise that covers a lease held by `primary` in `viewnum`
    /// (its grants to it, and the wait after its start).
    public func leasePromise(toPrimary primary: String, ofView viewnum: UInt64) -> UInt64 {
        grants.promise(toPrimary: primary, ofView: viewnum)
    }

    /// Whether `key`'s last update is settled (acknowledged by the backup, and in the
    /// log): only then may a Get of it be answered under the read lease.
    public func isSettled(_ key: Bytes) -> Bool {
        pipeline.settled.unsettledRevision(of: key, present: store.revision(of: key)) == nil
    }

    var data: DataState = .empty
    var duty: Duty = .idle
    var pipeline = PrimaryPipeline()
    /// As primary: the highest view whose backup holds the whole state.
    var ackedViewnum: UInt64 = 0
    var nextTransferID: UInt64 = 1
    var pingRequestedThisTick = false
    /// Shutting down: asks the monitor to be relieved (see `ServerEvent.leave`).
    public internal(set) var leaving = false
    /// With a data directory: the LSN of the last record handed to the log, and how far
    /// the log has reported it persisted. Both stay 0 without one.
    public internal(set) var lastLSN: UInt64 = 0
    public internal(set) var persistedLSN: UInt64 = 0
    /// As backup, with a data directory: acknowledgements to the primary waiting until the
    /// log holds what they confirm (etcd's #14370 was a reply sent before its fsync).
    var pendingAcks: [(token: ReplyToken, ack: BackupAck, lsn: UInt64, grant: LeaseGrant?)] = []
    /// The last claim written to the log: what the data directory proves about this
    /// server's state (written again only when it changes).
    public internal(set) var claim: StateClaim?
    /// The log's disk refused a write for want of space, and has not taken it yet: as
    /// primary, new updates are answered `retryLater`, so that the records waiting in
    /// memory stay few.
    public internal(set) var diskFull = false

    /// - Parameter clock: the lease clock when the process started; from then on, it waits
    ///   out the longest lease it may have granted before (`LeaseGrants`). Nil: no clock
    ///   (tests of the core that do not concern leases).
    public init(config: ServerConfig, recovered: RecoveredData? = nil, startedAt clock: UInt64? = nil) {
        self.config = config
        self.duplicates = DuplicateTable(capacity: config.duplicateTableCapacity)
        self.clock = clock ?? 0
        self.grants = LeaseGrants(startedAt: clock)
        guard let recovered else { return }
        store = recovered.store
        duplicates = recovered.duplicates
        lastLSN = recovered.lastLSN
        persistedLSN = recovered.lastLSN
        claim = recovered.claim
        if let claim = recovered.claim, claim.claimant == config.address {
            data = .claimed(claim)
        } else if !store.isEmpty || duplicates.count > 0 {
            data = .stale
        }
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
        // Not the new view's number: acknowledging it would let the monitor move on from
        // a view whose primary has not served yet.
        case .primary: ackedViewnum
        case .idle, .backup: view.viewnum
        }
    }

    /// Leaving, and the latest view gives this server no role: nobody depends on it
    /// any more. (A primary whose view has no backup cannot hand over; the driver
    /// decides how long to wait for one.)
    public var hasLeft: Bool { leaving && role == .idle }

    public var pendingReplies: Int { pipeline.heldCount }

    /// Updates applied that the backup has not acknowledged: the open batch's and those of
    /// the batches in flight. Expiries have no reply waiting for them.
    public var unacknowledgedUpdates: Int {
        pipeline.openUpdates.count + (pipeline.stream?.inFlight.reduce(0) { $0 + $1.updates.count } ?? 0)
    }

    /// Whether a snapshot of the store now would be a state the log passed through: not
    /// while a transfer is replacing it.
    public var mayCompact: Bool { storeMatchesLog }

    /// False from the first chunk of a transfer until its snapshot is handed to the log:
    /// the store is then part old, part new, and what the log holds is the old state.
    /// A view change in between leaves it false until the next transfer completes.
    var storeMatchesLog = true

    /// The claim this server's pings carry: what it recovered from disk, or the primary
    /// role of the view it left for the backup role of the next, until it serves or a
    /// transfer replaces its store. An operator's adoption keeps it: the claim may let
    /// the monitor revive this server with everything acknowledged, which beats the
    /// operator's view with its accepted loss.
    public var pingClaim: StateClaim? {
        switch data {
        case .claimed(let claim): claim
        case .adopted(let claim): claim
        case .empty, .current, .stale: nil
        }
    }
    public var deferredRequests: Int { pipeline.deferred.count }

    /// As backup: what it has received from the primary of its view.
    var incoming: IncomingStream? {
        if case .backup(let stream) = duty { return stream }
        return nil
    }

    /// Takes one event at wall-clock time `now` (Unix milliseconds) and lease-clock time
    /// `clock` (nanoseconds).
    public mutating func step(_ event: ServerEvent, now: UInt64, clock: UInt64) -> [ServerEffect] {
        self.clock = max(self.clock, clock)
        return step(event, now: now)
    }

    /// Takes one event at wall-clock time `now` (Unix milliseconds), the lease clock
    /// where it was (tests that do not concern leases).
    public mutating func step(_ event: ServerEvent, now: UInt64) -> [ServerEffect] {
        self.now = max(self.now, now)
        return step(event)
    }

    /// Takes one event at the time of the last (tests that do not concern time).
    public mutating func step(_ event: ServerEvent) -> [ServerEffect] {
        var effects: [ServerEffect] = []
        step(event, into: &effects)
        return effects
    }

    /// `step(_:now:clock:)`, appending the effects to `effects`: a driver passes the same
    /// emptied array every time, instead of one allocated per step.
    public mutating func step(
        _ event: ServerEvent, now: UInt64, clock: UInt64, into effects: inout [ServerEffect]
    ) {
        self.now = max(self.now, now)
        self.clock = max(self.clock, clock)
        step(event, into: &effects)
    }

    private mutating func step(_ event: ServerEvent, into effects: inout [ServerEffect]) {
        endLeaseWaitIfOver(&effects)
        defer { checkInvariants() }
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
            expireDueKeys(&effects)
        case .persisted(let lsn):
            persisted(upTo: lsn, &effects)
        case .adoptData:
            adoptData(&effects)
        case .diskFull(let full):
            guard full != diskFull else { break }
            diskFull = full
            effects.append(.notice(full ? .diskFull : .diskNoLongerFull))
        case .leave:
            guard !leaving else { break }
            leaving = true
            effects.append(.notice(.leaving(role: role, view: view)))
            giveBackLease(&effects)
            // At once, not at the next tick: a shutdown is waiting on the answer.
            effects.append(.ping(viewnum: pingViewnum, leaving: true))
        }
        // A grant given back in this step may have ended the wait.
        endLeaseWaitIfOver(&effects)
    }

    // MARK: - Views

    mutating func observe(_ newView: View, _ effects: inout [ServerEffect]) {
        guard newView.viewnum >= view.viewnum else { return }
        if newView.viewnum == view.viewnum {
            var acknowledged = view
            acknowledged.acked = true
            guard newView == acknowledged, !view.acked
            else { return }
            view.acked = true
            if duty == .primary(.awaitingFirstAck) {
                data = .current
                duty = .primary(.serving)
                recordClaim(.primary, &effects)
                startReplication(&effects)
            }
            return
        }

        let old = view
        let oldRole = role(in: old)
        let oldDuty = duty
        if oldRole == .primary { releaseBackupOfOldView(&effects) }
        readLease = .none
        view = newView
        refusePendingAcceptances(&effects)
        let newRole = role(in: newView)
        effects.append(.notice(.viewChanged(from: old, to: newView)))
        if oldRole != newRole {
            effects.append(.notice(.roleChanged(from: oldRole, to: newRole, view: newView)))
        }

        guard newRole == .primary else {
            if oldRole == .primary { abandonPrimaryRole(&effects) }
            // What it recovered (or the operator accepted) it still holds until a transfer
            // replaces it (`BackupReception.receiveChunk`): a backup that has not received
            // its view's transfer may yet be revived from its claim (docs/DESIGN.md §3.12).
            // So does a primary made backup with the state it served: if the new primary
            // fails before its transfer completes, nothing was answered in the new view,
            // and this server holds everything answered before it.
            if data == .current {
                data =
                    oldRole == .primary && newRole == .backup ? .claimed(StateClaim(role: .primary, view: old)) : .stale
            }
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
        // Named primary after a restart: the monitor revives a server only in a view after
        // the one it claims, of the same cluster, when it was the primary of every view
        // since and took none of them up (docs/DESIGN.md §3.12).
        var revived: StateClaim?
        if case .claimed(let claim) = data, newView.viewnum > claim.viewnum, newView.cluster == claim.cluster {
            revived = claim
        }
        let adopted = data.isAdopted
        if continuing || promoted || confirmedFirst || revived != nil || adopted {
            if let revived { effects.append(.notice(.revived(view: newView, claim: revived))) }
            if adopted { effects.append(.notice(.servingAdoptedData(view: newView, keys: store.count))) }
            data = .current
            ackedViewnum = max(ackedViewnum, old.viewnum)
            // The first primary of a cluster follows no primary that could hold a lease, and
            // one that served the view before waited out its grants then and made none since.
            let servedBefore = continuing && (oldDuty == .primary(.serving) || oldDuty == .primary(.fenced))
            if clock < grants.until && !confirmedFirst && !servedBefore {
                // Replies held in the view before wait for the next view's transfer, as
                // they do when it serves at once.
                pipeline.held.waitForTransfer()
                pipeline.heldForBatchInFlight.waitForTransfer()
                pipeline.endStream()
                duty = .primary(.waitingOutLease)
                effects.append(
                    .notice(.waitingOutLease(view: newView, milliseconds: (grants.until - clock) / 1_000_000)))
                return
            }
            beginServing(&effects)
        } else if firstOfCluster && !newView.acked {
            // Serve only once the monitor confirms the acknowledgement: had this server
            // served first and restarted, its empty successor would see the same
            // unacknowledged view 1 and could not tell it apart from a new cluster.
            duty = .primary(.awaitingFirstAck)
        } else {
            let reason: String
            switch data {
            case .empty: reason = "restarted without data: the view's data is on its backup, if anyone"
            case .claimed(let claim) where claim.cluster != newView.cluster:
                reason = "it holds \(claim), not of this cluster"
            case .claimed(let claim): reason = "it holds \(claim), not of a view before this one"
            case .current, .stale, .adopted: reason = "not the primary or synchronised backup of view \(old.viewnum)"
            }
            duty = .primary(.refusing)
            if data == .current { data = .stale }
            effects.append(.notice(.refusedPrimary(view: newView, reason: reason)))
            abandonPrimaryRole(&effects)
        }
    }

    /// As backup of the view it leaves: acceptances still waiting for the log are refused
    /// instead. Sent later, an acceptance would grant its primary a lease from then, which
    /// this server, perhaps serving the new view by then, could not honour; and the old
    /// view's primary counts on nothing from this server any more.
    private mutating func refusePendingAcceptances(_ effects: inout [ServerEffect]) {
        for pending in pendingAcks {
            effects.append(.answerPrimary(pending.token, BackupAck(verdict: .rejected, backupViewnum: view.viewnum)))
        }
        pendingAcks.removeAll()
    }

    /// Serves the view it is primary of, with the state it holds.
    private mutating func beginServing(_ effects: inout [ServerEffect]) {
        duty = .primary(.serving)
        recordClaim(.primary, &effects)
        startReplication(&effects)
    }

    /// A server named primary that granted a lease as backup serves once every grant has
    /// run out (or was given back): before then, the primary that held it may still be
    /// answering Gets on its own (docs/DESIGN.md §3.14).
    mutating func endLeaseWaitIfOver(_ effects: inout [ServerEffect]) {
        guard duty == .primary(.waitingOutLease), clock >= grants.until else { return }
        beginServing(&effects)
    }

    // MARK: - The operator's way out

    /// Why `adoptData` would be refused now, or nil if it would be taken.
    public var adoptionRefusal: String? {
        switch duty {
        case .idle, .backup(nil), .primary(.refusing):
            break
        case .backup(.some):
            return "it is receiving the state of view \(view.viewnum)"
        case .primary:
            // Serving, fenced with the current state, or the first primary waiting for its
            // acknowledgement: it holds the view's state already, or must stay empty.
            return "it is the primary of view \(view.viewnum)"
        }
        return storeMatchesLog ? nil : "a transfer replaced part of its store"
    }

    /// `kvctl revive --accept-data-loss`, on the server's side: whatever it holds becomes
    /// what it serves once the monitor names it primary. Not while it serves, nor while it
    /// receives a transfer (its store is half replaced).
    private mutating func adoptData(_ effects: inout [ServerEffect]) {
        if let reason = adoptionRefusal { return effects.append(.notice(.adoptRefused(reason: reason))) }
        data = .adopted(pingClaim)
        effects.append(.notice(.adoptedData(keys: store.count)))
    }

    // MARK: - The log

    /// Hands `record` to the log under the next LSN (only with a data directory).
    mutating func persist(_ record: @autoclosure () -> DurableRecord, _ effects: inout [ServerEffect]) {
        // Built only with a data directory: a record copies the update it carries.
        guard config.durable else { return }
        lastLSN += 1
        effects.append(.persist(record(), lsn: lastLSN))
    }

    /// `persist` of each of `updates`, in order, as one effect.
    mutating func persist(updates: [ForwardedUpdate], _ effects: inout [ServerEffect]) {
        guard config.durable, !updates.isEmpty else { return }
        effects.append(.persistUpdates(updates, firstLSN: lastLSN + 1))
        lastLSN += UInt64(updates.count)
    }

    /// `persist` of an update at its last use: moved into the record, not copied (a copy
    /// retains its key, value and reply), and without a data directory just dropped.
    mutating func persist(taking update: consuming ForwardedUpdate, _ effects: inout [ServerEffect]) {
        guard config.durable else { return }
        lastLSN += 1
        effects.append(.persist(.update(update), lsn: lastLSN))
    }

    /// Logs that this server now holds the complete state of the current view in `role`.
    /// It precedes every update of the view in the log, so once one of them is on disk,
    /// so is the claim (docs/STORAGE.md, "Claims").
    mutating func recordClaim(_ role: StateClaim.Role, _ effects: inout [ServerEffect]) {
        let next = StateClaim(role: role, view: view)
        guard config.durable, claim != next else { return }
        claim = next
        persist(.claim(next), &effects)
    }

    private mutating func persisted(upTo lsn: UInt64, _ effects: inout [ServerEffect]) {
        guard lsn > persistedLSN else { return }
        precondition(lsn <= lastLSN, "LSN \(lsn) reported persisted, but the last handed out is \(lastLSN)")
        persistedLSN = lsn
        releaseHeld(&effects)
        // Requests deferred because too many replies were held may go on now.
        if isServing { drainDeferred(&effects) }
        var released = 0
        while released < pendingAcks.count, pendingAcks[released].lsn <= lsn {
            let pending = pendingAcks[released]
            answerPrimary(pending.token, pending.ack, pending.grant, &effects)
            released += 1
        }
        pendingAcks.removeFirst(released)
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
            precondition(readLease == .none, "a backup holds a read lease")
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
                    precondition(
                        pipeline.heldCount == 0 || config.durable, "replies held with no backup or log to wait for")
                }
            case .waitingOutLease:
                precondition(data == .current, "waiting out a lease without the current state")
                precondition(pipeline.stream == nil, "replicating before serving")
                precondition(clock < grants.until, "waiting out a lease that has ended")
            case .awaitingFirstAck:
                precondition(data == .empty, "awaiting the first acknowledgement with data")
                precondition(pipeline.stream == nil && pipeline.heldCount == 0, "replicating before serving")
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
        precondition(
            readLease == .none || readLease == .givenBack || duty == .primary(.serving),
            "a read lease held by a \(duty)")
        precondition(persistedLSN <= lastLSN, "persisted \(persistedLSN) beyond the last LSN \(lastLSN)")
        precondition(config.durable || (lastLSN == 0 && pendingAcks.isEmpty), "logging without a data directory")
    }
}
