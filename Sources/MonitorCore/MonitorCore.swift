import KVProtocol

/// The view service as a deterministic state machine (docs/DESIGN.md §2).
///
/// `step` takes one event with the caller's clock reading and returns the effects the
/// driver must carry out; nothing here reads a clock, sleeps or does I/O. Saving a view
/// is an effect, and its completion comes back as an event: a view is handed out (in a
/// ping's answer, a view request's or a switchover's) only once it is saved, and one
/// save is in flight at a time (§2.6). Every rule that changes the view lives in
/// `evaluate()`, run whenever a save may start, so a change happens as soon as its cause
/// is known and a test can step through it.
public struct MonitorCore {
    /// The view in force: saved, and the only one handed out.
    public private(set) var view: View
    public private(set) var ticks: UInt64 = 0
    public let config: MonitorConfig
    private var records: [String: ServerRecord] = [:]
    /// The save in flight, and what completes with it.
    private var saving: PendingSave?
    /// Pings that arrived while a save was in flight, and who sent them: answered once it
    /// completes (with the view it made), or at the next tick with the view in force.
    private var heldPings: [(token: ReplyToken, from: String)] = []
    /// The view the last successful switchover started from.
    private var lastSwitchoverFrom: UInt64?
    /// The view and server of the last operator revival, so that a retry is answered done.
    private var lastRevival: (from: UInt64, address: String)?
    /// Why nothing is served, while the monitor waits for a restarted member of the view
    /// that can be revived (`revive`); nil otherwise.
    public private(set) var waitingForRevival: String?

    private struct PendingSave {
        enum Purpose {
            /// The primary pinged with the view's number.
            case acknowledgement
            /// A new view; `clearsRestartOf` names a server whose restart the view
            /// answers, and `switchover` the admin request that asked for it.
            case change(
                from: View, reason: ViewChangeReason, clearsRestartOf: [String],
                switchover: (from: UInt64, token: ReplyToken)?)
        }

        let view: View
        let purpose: Purpose
    }

    /// - Parameters:
    ///   - restoredView: the view found in the state directory, if any. Its primary and
    ///     backup get a full grace period, as if they had just pinged.
    public init(config: MonitorConfig = MonitorConfig(), restoredView: View? = nil, now: UInt64 = 0) {
        self.config = config
        self.view = restoredView ?? .initial
        for address in [view.primary, view.backup] where !address.isEmpty {
            records[address] = ServerRecord(
                lastPingTick: 0, lastPingMillis: now, viewnum: view.viewnum, restarted: false, reportedDead: false,
                pingedSinceStart: false)
        }
        checkInvariants()
    }

    public mutating func step(_ event: MonitorEvent, at now: UInt64) -> [MonitorEffect] {
        var effects: [MonitorEffect] = []
        switch event {
        case .ping(let address, let viewnum, let leaving, let incarnation, let claim, let token):
            ping(
                from: address, viewnum: viewnum, leaving: leaving, incarnation: incarnation, claim: claim, token,
                at: now, &effects)
        case .viewRequest(let token):
            // Clients need no cluster id, and those that predate it refuse the field.
            effects.append(.reply(token, .viewReply(view.withoutCluster)))
        case .serversRequest(let token):
            effects.append(.reply(token, .serversReply(view: view, servers: servers(at: now))))
        case .switchover(let expectedViewnum, let token):
            switchover(expectedViewnum: expectedViewnum, token, &effects)
        case .revive(let address, let expectedViewnum, let token):
            reviveByOperator(address, expectedViewnum: expectedViewnum, token, &effects)
        case .tick:
            tick(&effects)
        case .viewSaved(let saved):
            viewSaved(saved, &effects)
        case .viewNotSaved(let wanted, let error):
            viewNotSaved(wanted, error: error, &effects)
        }
        checkInvariants()
        return effects
    }

    /// Every server the monitor has heard from, in address order.
    public func servers(at now: UInt64) -> [ServerInfo] {
        records.keys.sorted().map { address in
            let record = records[address]!
            return ServerInfo(
                address: address, role: role(of: address),
                lastPingAgeMillis: now >= record.lastPingMillis ? now - record.lastPingMillis : 0,
                viewnum: record.viewnum, alive: isAlive(record))
        }
    }

    // MARK: - Pings and ticks

    private mutating func ping(
        from address: String, viewnum: UInt64, leaving: Bool, incarnation: UInt64, claim: StateClaim?,
        _ token: ReplyToken, at now: UInt64, _ effects: inout [MonitorEffect]
    ) {
        // "" means "no server" in a view: a ping from it must never name a primary.
        guard !address.isEmpty else {
            effects.append(.reply(token, .viewReply(view.withoutCluster)))
            return
        }
        if records[address] == nil { effects.append(.notice(.serverJoined(address: address))) }
        var record =
            records[address]
            ?? ServerRecord(
                lastPingTick: ticks, lastPingMillis: now, viewnum: viewnum, restarted: false, reportedDead: false)
        // A server that restarted says so by a new incarnation; when the last one is not
        // known (this monitor restarted too), by a claim, sent only after a restart. With
        // neither, a 0 from a member of the view is the sign.
        let knownIncarnation = incarnation != 0 && record.incarnation != 0
        let restartShown = knownIncarnation ? incarnation != record.incarnation : claim != nil
        record.lastPingTick = ticks
        record.lastPingMillis = now
        record.viewnum = viewnum
        record.reportedDead = false
        record.pingedSinceStart = true
        record.incarnation = incarnation
        if let claim, claim != record.claim, holdsForeignData(claim) {
            effects.append(.notice(.foreignData(address: address, claim: claim, cluster: view.cluster)))
        }
        record.claim = claim
        if leaving && !record.leaving {
            effects.append(.notice(.serverLeaving(address: address, role: role(of: address))))
        }
        record.leaving = leaving

        if view.viewnum == 0 {
            records[address] = record
            // A server on its way out must not found the cluster: it would exit at once,
            // leaving a view 1 whose primary nobody else may replace.
            // Nor one that holds data: it was part of a cluster this monitor does not know
            // (or that lost its view), and would refuse the role (docs/DESIGN.md §3.12).
            if !leaving && claim == nil && canSave {
                commit(View(viewnum: 1, primary: address, backup: "", acked: false), reason: .firstPrimary, &effects)
            }
            answerPing(token, from: address, &effects)
            return
        }

        if address == view.primary {
            if viewnum == view.viewnum {
                if !view.acked && canSave {
                    var acked = view
                    acked.acked = true
                    startSaving(PendingSave(view: acked, purpose: .acknowledgement), &effects)
                }
            } else if viewnum == 0 && (restartShown || (view.acked && !knownIncarnation)) && !record.restarted {
                // With its incarnation known, only a new one is a restart: a 0 from the same
                // process was sent before it learned its view and arrived late. Without, an
                // unacknowledged view's primary may ping 0 because it never received its
                // view; only after it acknowledged is a 0 a restart, unless the ping shows one.
                record.restarted = true
                effects.append(.notice(.serverRestarted(address: address, role: .primary)))
            }
        } else if address == view.backup, viewnum == 0, !record.restarted, restartShown || !knownIncarnation {
            // A backup of the same incarnation pinging 0 has not learned its view yet (the
            // answer that named it was lost): replacing it by itself would repeat for ever.
            record.restarted = true
            effects.append(.notice(.serverRestarted(address: address, role: .backup)))
        }
        records[address] = record
        evaluate(&effects)
        answerPing(token, from: address, &effects)
    }

    /// Answers a ping with the view in force, or holds the answer while a save is in
    /// flight: the ping may be what the save answers (a restart, an acknowledgement), and
    /// the new view then reaches its server without waiting for its next ping.
    private mutating func answerPing(_ token: ReplyToken, from address: String, _ effects: inout [MonitorEffect]) {
        if saving != nil {
            heldPings.append((token, address))
        } else {
            effects.append(.reply(token, .viewReply(view(toAnswer: address))))
        }
    }

    private mutating func releaseHeldPings(_ effects: inout [MonitorEffect]) {
        for held in heldPings { effects.append(.reply(held.token, .viewReply(view(toAnswer: held.from)))) }
        heldPings.removeAll()
    }

    /// The view in force, except for a server that restarted while the view names it: it
    /// learns no view (view 0) until a saved view answers its restart (§2.3). Told its old
    /// view, it would take its role back, empty, and ping with that view's number; the
    /// restart mark lives in memory only, so a monitor that restarted before the
    /// replacement was saved would then take it for healthy, and a primary's forwards to
    /// an empty backup would be refused for ever (or the empty backup promoted).
    private func view(toAnswer address: String) -> View {
        if records[address]?.restarted == true && role(of: address) != .idle { return .initial }
        // A server that sends no incarnation predates cluster ids, and refuses the field.
        return records[address]?.incarnation == 0 ? view.withoutCluster : view
    }

    /// One ping interval has passed.
    private mutating func tick(_ effects: inout [MonitorEffect]) {
        ticks += 1
        // In address order, not the table's (which the process's hash seed decides).
        let died = records.filter { !isAlive($0.value) && !$0.value.reportedDead }.keys.sorted()
        for address in died {
            records[address]?.reportedDead = true
            effects.append(.notice(.serverDied(address: address)))
        }
        let named = [view.primary, view.backup, saving?.view.primary ?? "", saving?.view.backup ?? ""]
        for (address, record) in records
        where ticks - record.lastPingTick > config.forgetAfterTicks && !named.contains(address) {
            records[address] = nil
        }
        // Answered within a tick whatever the store does: a server waits for one ping's
        // answer at a time.
        releaseHeldPings(&effects)
        evaluate(&effects)
    }

    // MARK: - Saving

    /// One save at a time: each is decided from the view in force, and a store shared by
    /// several monitors accepts a write only if it follows the one it read.
    private var canSave: Bool { saving == nil }

    private mutating func startSaving(_ save: PendingSave, _ effects: inout [MonitorEffect]) {
        precondition(canSave, "a save started while another is in flight")
        saving = save
        effects.append(.saveView(save.view))
    }

    /// Asks for `next` to be saved; it is in force once the save completes.
    private mutating func commit(
        _ next: View, reason: ViewChangeReason, clearsRestartOf: [String] = [],
        switchover: (from: UInt64, token: ReplyToken)? = nil, _ effects: inout [MonitorEffect]
    ) {
        var next = next
        // Named once, when the cluster is founded (or at the first change of a view saved
        // unnamed), and carried by every view after. Not by a revival out of an unnamed
        // view: its server's claim is of cluster 0, and it takes only a view of its own
        // cluster (the next other change names it).
        next.cluster =
            view.cluster != 0 || (view.viewnum > 0 && reason == .revived) ? view.cluster : config.newClusterID
        startSaving(
            PendingSave(
                view: next,
                purpose: .change(from: view, reason: reason, clearsRestartOf: clearsRestartOf, switchover: switchover)),
            &effects)
    }

    private mutating func viewSaved(_ saved: View, _ effects: inout [MonitorEffect]) {
        guard let pending = saving, pending.view == saved else {
            preconditionFailure(
                "\(saved) reported saved, but the save in flight is \(String(describing: saving?.view))")
        }
        saving = nil
        precondition(view.cluster == 0 || saved.cluster == view.cluster, "\(saved) saved into another cluster")
        view = saved
        switch pending.purpose {
        case .acknowledgement:
            effects.append(.notice(.viewAcknowledged(saved)))
        case .change(let from, let reason, let clearsRestartOf, let switchover):
            effects.append(.notice(.viewChanged(from: from, to: saved, reason: reason)))
            // The restart is answered only now: had the save failed, the old view would
            // still name the empty server, and the mark is what gets it replaced.
            for address in clearsRestartOf { records[address]?.restarted = false }
            if let switchover {
                if reason == .operatorRevival {
                    lastRevival = (switchover.from, saved.primary)
                } else {
                    lastSwitchoverFrom = switchover.from
                }
                effects.append(.reply(switchover.token, .switchoverReply(SwitchoverReply(status: .done, view: saved))))
            }
        }
        evaluate(&effects)
        if saving == nil { releaseHeldPings(&effects) }
    }

    private mutating func viewNotSaved(_ wanted: View, error: String, _ effects: inout [MonitorEffect]) {
        guard let pending = saving, pending.view == wanted else {
            preconditionFailure(
                "\(wanted) reported not saved, but the save in flight is \(String(describing: saving?.view))")
        }
        // The old view stays in force. The change is asked for again by the next ping or
        // tick that calls for it, not at once: a failing store is not retried in a loop.
        saving = nil
        effects.append(.notice(.persistFailed(wanted: wanted, error: error)))
        if case .change(_, let reason, _, let switchover?) = pending.purpose {
            if reason == .operatorRevival {
                refuseRevival(
                    wanted.primary, "the new view could not be saved: \(error)", transient: true, switchover.token,
                    &effects)
            } else {
                refuse(switchover.token, .notSaved(error), &effects)
            }
        }
        releaseHeldPings(&effects)
    }

    // MARK: - Switchover

    /// A planned hand-over of the primary role to the backup (`kvctl switchover`).
    ///
    /// Safe only when the view is acknowledged: the primary acknowledges a view once its
    /// backup holds the whole state, and from then on every update and read is confirmed
    /// by the backup before it is answered. So the backup holds everything any client has
    /// seen, exactly as when the primary dies; the old primary becomes the new backup and
    /// receives the state afresh.
    ///
    /// Unlike a failure, nothing forces the change, so the monitor also wants evidence
    /// that the backup is there now: a ping in this view within the last ticks, since
    /// this monitor started (see `isConfirmedInView`).
    ///
    /// `expectedViewnum` makes it a compare-and-swap: the request acts only if this is
    /// still the current view. A repeat of the request that succeeded last gets the same
    /// answer, so a client may retry.
    private mutating func switchover(
        expectedViewnum: UInt64, _ token: ReplyToken, _ effects: inout [MonitorEffect]
    ) {
        if lastSwitchoverFrom == expectedViewnum {
            // Done already; the answer carries the view in force, as every answer does
            // (the one the switchover made may since be acknowledged, or replaced).
            effects.append(.reply(token, .switchoverReply(SwitchoverReply(status: .done, view: view))))
            return
        }
        if let refusal = switchoverRefusal(expectedViewnum: expectedViewnum) {
            refuse(token, refusal, &effects)
            return
        }
        let oldPrimary = view.primary
        let newBackup =
            isHealthy(oldPrimary) && !isLeaving(oldPrimary) ? oldPrimary : pickIdle(excluding: [view.backup])
        commit(
            View(viewnum: view.viewnum + 1, primary: view.backup, backup: newBackup), reason: .switchover,
            switchover: (expectedViewnum, token), &effects)
    }

    private func switchoverRefusal(expectedViewnum: UInt64) -> SwitchoverRefusal? {
        guard view.viewnum > 0, !view.primary.isEmpty else { return .noPrimary }
        guard expectedViewnum == view.viewnum else { return .viewChanged(view) }
        if saving != nil { return .saveInProgress }
        guard view.acked else { return .notAcknowledged(view) }
        guard !view.backup.isEmpty else { return .noBackup }
        guard let record = records[view.backup], isAlive(record) else {
            return .backupUnavailable(address: view.backup, reason: "is not pinging")
        }
        guard !record.restarted else {
            return .backupUnavailable(address: view.backup, reason: "restarted and holds no data")
        }
        guard !record.leaving else { return .backupUnavailable(address: view.backup, reason: "is shutting down") }
        guard isConfirmedInView(view.backup) else { return .backupUnconfirmed(address: view.backup) }
        return nil
    }

    private func refuse(_ token: ReplyToken, _ refusal: SwitchoverRefusal, _ effects: inout [MonitorEffect]) {
        effects.append(.notice(.switchoverRefused(refusal)))
        effects.append(
            .reply(
                token,
                .switchoverReply(
                    SwitchoverReply(
                        status: refusal.isTransient ? .retryLater : .refused, reason: "\(refusal)", view: view))))
    }

    // MARK: - The view rules

    /// Applies the rules of §2.3 to the current state, when a save may start.
    private mutating func evaluate(_ effects: inout [MonitorEffect]) {
        guard canSave else { return }
        guard view.viewnum > 0 else { return awaitFounding(&effects) }
        let primaryHealthy = isHealthy(view.primary)
        let hasBackup = !view.backup.isEmpty
        let backupHealthy = hasBackup && isHealthy(view.backup)

        if !primaryHealthy && !(view.acked && backupHealthy) {
            // Nobody can be promoted; a restarted member may be revived.
            revive(&effects)
            return
        }
        if waitingForRevival != nil { waitingForRevival = nil }
        // A member known only from the restored view (not heard since this monitor
        // started) may have restarted too: a view that relies on it waits until it pings
        // (or is found dead). A view made meanwhile costs a view number that a restarted
        // member's claim may need: the primary of view V claiming view V - 1 is revivable,
        // of view V + 1 not, and the backup of an unacknowledged view never is. After a
        // reboot of everything, the backup pinging first was replaced by itself and the
        // primary could no longer be revived; a restarted primary's unheard backup was
        // promoted, and had it never come back, the old primary, holding everything, could
        // not be revived either.
        let primaryHeard = records[view.primary]?.pingedSinceStart ?? false
        let backupHeard = hasBackup && (records[view.backup]?.pingedSinceStart ?? false)
        if view.acked {
            if !primaryHealthy {
                guard backupHeard else { return }
                // A restarted primary is alive again and may come back as the new backup;
                // it is empty, and the new primary transfers the state to it.
                commit(
                    View(viewnum: view.viewnum + 1, primary: view.backup, backup: pickIdle(excluding: [view.backup])),
                    reason: .primaryFailed, clearsRestartOf: [view.primary], &effects)
            } else if isLeaving(view.primary) && backupHealthy && !isLeaving(view.backup) {
                // A planned leave is a switchover that does not keep the old primary.
                // Until the backup is confirmed in this view, the primary waits.
                if isConfirmedInView(view.backup) {
                    let backup = pickIdle(excluding: [view.primary, view.backup])
                    commit(
                        View(viewnum: view.viewnum + 1, primary: view.backup, backup: backup), reason: .primaryLeft,
                        &effects)
                }
            } else if hasBackup && !backupHealthy {
                if primaryHeard { replaceBackup(leaving: false, &effects) }
            } else if hasBackup && isLeaving(view.backup) {
                // Only while the primary is confirmed alive: if it died a moment ago, the
                // leaving backup holds the only copy and is promoted once the death shows.
                if isConfirmedAlive(view.primary) { replaceBackup(leaving: true, &effects) }
            } else if !hasBackup && primaryHeard {
                let backup = pickIdle(excluding: [view.primary])
                if !backup.isEmpty {
                    commit(
                        View(viewnum: view.viewnum + 1, primary: view.primary, backup: backup), reason: .backupAdded,
                        &effects)
                }
            }
        } else if primaryHealthy && hasBackup && !backupHealthy && primaryHeard {
            // The one change allowed before the acknowledgement: nobody is promoted, so a
            // primary stuck transferring to a dead (or departing) backup gets a live one.
            replaceBackup(leaving: false, &effects)
        } else if primaryHealthy && hasBackup && isLeaving(view.backup) && isConfirmedAlive(view.primary) {
            replaceBackup(leaving: true, &effects)
        }
    }

    // MARK: - Revival

    /// The operator's way out (`kvctl revive HOST:PORT --accept-data-loss`): `address`
    /// becomes primary of the next view with whatever it holds, even though it may lack
    /// acknowledged updates. Only while the service is down for want of a revivable member
    /// (an operator cannot override a primary that serves, or a backup the monitor will
    /// promote), only for a server pinging now, and as a compare-and-swap on the view. The
    /// server must have been told to adopt its data first (`Message.adoptData`), or it
    /// refuses the view as any restarted server does.
    private mutating func reviveByOperator(
        _ address: String, expectedViewnum: UInt64, _ token: ReplyToken, _ effects: inout [MonitorEffect]
    ) {
        if let lastRevival, lastRevival.from == expectedViewnum, lastRevival.address == address {
            effects.append(.reply(token, .switchoverReply(SwitchoverReply(status: .done, view: view))))
            return
        }
        let refusal: (reason: String, transient: Bool)? = {
            // At view 0 only a server holding data waits for the operator: any other founds
            // the cluster at its first ping.
            guard view.viewnum > 0 || records[address]?.claim != nil else {
                return ("there is no view yet: the first server to ping founds one", false)
            }
            guard expectedViewnum == view.viewnum else { return ("the view changed (now \(view))", false) }
            guard canSave else { return ("another view change is being saved", true) }
            if view.acked && isHealthy(view.primary) {
                return ("the service is up: \(view.primary) serves view \(view.viewnum)", false)
            }
            // Unless it pings 0 from the process the monitor knows: it has no view, or
            // refuses this one, and transfers nothing.
            if !view.acked && isHealthy(view.primary) && records[view.primary]?.viewnum != 0 {
                // It may be transferring the state to its backup: the service is not down,
                // and a revival would discard what it holds for nothing.
                return (
                    "primary \(view.primary) of view \(view.viewnum) is alive and has not acknowledged the view "
                        + "yet (it may be transferring the state to its backup): the service is not down; "
                        + "if \(view.primary) is stuck, stop or restart it first", false
                )
            }
            if view.acked && !view.backup.isEmpty && isHealthy(view.backup) {
                return ("backup \(view.backup) can take over: the monitor promotes it", false)
            }
            guard let record = records[address], isAlive(record), record.pingedSinceStart else {
                return ("\(address) is not pinging this monitor", false)
            }
            guard !record.leaving else { return ("\(address) is shutting down", false) }
            return nil
        }()
        if let refusal { return refuseRevival(address, refusal.reason, transient: refusal.transient, token, &effects) }
        let other = [view.primary, view.backup].first { !$0.isEmpty && $0 != address } ?? ""
        let backup =
            !other.isEmpty && records[other].map(isAlive) == true && !isLeaving(other)
            ? other : pickIdle(excluding: [address])
        waitingForRevival = nil
        commit(
            View(viewnum: view.viewnum + 1, primary: address, backup: backup), reason: .operatorRevival,
            clearsRestartOf: [address, view.primary, view.backup].filter { !$0.isEmpty },
            switchover: (expectedViewnum, token), &effects)
    }

    private func refuseRevival(
        _ address: String, _ reason: String, transient: Bool, _ token: ReplyToken, _ effects: inout [MonitorEffect]
    ) {
        effects.append(.notice(.reviveRefused(address: address, reason: reason)))
        effects.append(
            .reply(
                token,
                .switchoverReply(
                    SwitchoverReply(status: transient ? .retryLater : .refused, reason: reason, view: view))))
    }

    /// No view yet, and the servers that ping all hold data (any server without founds
    /// the cluster at its first ping): a monitor whose view was lost, or a new one pointed
    /// at a cluster's servers. Founding a cluster on their data is the operator's call.
    private mutating func awaitFounding(_ effects: inout [MonitorEffect]) {
        let holders = records.keys.sorted().filter { records[$0]!.claim != nil && isAlive(records[$0]!) }
        guard !holders.isEmpty else {
            waitingForRevival = nil
            return
        }
        let reason =
            "no view yet, and every server pinging holds data of a cluster this monitor has no view of ("
            + holders.joined(separator: ", ")
            + "): restore the monitor's view, or kvctl revive HOST:PORT --accept-data-loss founds the cluster on "
            + "one's data"
        if waitingForRevival != reason {
            waitingForRevival = reason
            effects.append(.notice(.waitingForRevival(view: view, reason: reason)))
        }
    }

    /// The view's primary is dead or restarted and its backup cannot be promoted (there is
    /// none, it is down too, or the view is unacknowledged). A restarted member of the view
    /// whose data directory proves it holds every acknowledged update becomes primary of
    /// the next view, the primary preferred; the other member, if alive, its backup (it
    /// gets a full transfer, which discards whatever it holds that was never acknowledged).
    /// Otherwise nothing changes, and the monitor says whom it waits for (docs/DESIGN.md
    /// §3.12).
    private mutating func revive(_ effects: inout [MonitorEffect]) {
        guard let candidate = revivalCandidate() else {
            let reason = revivalWait()
            if waitingForRevival != reason {
                waitingForRevival = reason
                effects.append(.notice(.waitingForRevival(view: view, reason: reason)))
            }
            return
        }
        waitingForRevival = nil
        let other = candidate == view.primary ? view.backup : view.primary
        let backup =
            !other.isEmpty && records[other].map(isAlive) == true && !isLeaving(other)
            ? other : pickIdle(excluding: [candidate])
        commit(
            View(viewnum: view.viewnum + 1, primary: candidate, backup: backup), reason: .revived,
            clearsRestartOf: [candidate, other].filter { !$0.isEmpty }, &effects)
    }

    /// The member of the view that may be revived, if one may. It must have pinged since
    /// this monitor started, be alive, not leaving, and claim:
    /// - as the view's primary: the primary role in this very view, or either role in an
    ///   earlier view. Then it was the primary of every view since that one, and took none
    ///   of them up, so nothing was acknowledged in them: a reply in a view waits for the
    ///   view's claim to be on disk; and a view whose primary is new was entered from an
    ///   acknowledged view whose backup it was, which it could not be without its transfer's
    ///   claim on disk, or was revived into it from the backup role of the view before,
    ///   where nothing was answered either (below). (A revival made from the view before, whose revived server learned
    ///   of it only after a restart of either, leaves the claim two views behind: waiting
    ///   for a newer claim would wait for ever.)
    /// - as the view's backup: the backup role in this very view, if the view is
    ///   acknowledged (its transfer completed, and it acknowledged every update that was
    ///   answered); or either role in the view before (then it never completed this view's
    ///   transfer, so this view's primary answered nothing: every reply waits for it).
    private func revivalCandidate() -> String? {
        func eligible(_ address: String) -> StateClaim? {
            guard !address.isEmpty, let record = records[address], record.pingedSinceStart, isAlive(record),
                !record.leaving, let claim = record.claim, claim.claimant == address, claim.cluster == view.cluster
            else { return nil }
            return claim
        }
        if let claim = eligible(view.primary) {
            let thisView = claim.role == .primary && claim.viewnum == view.viewnum && claim.backup == view.backup
            if thisView || claim.viewnum < view.viewnum { return view.primary }
        }
        if let claim = eligible(view.backup) {
            let thisView =
                view.acked && claim.role == .backup && claim.viewnum == view.viewnum
                && claim.primary == view.primary
            if thisView || claim.viewnum + 1 == view.viewnum { return view.backup }
        }
        return nil
    }

    /// What the monitor waits for, for the log and the status.
    private func revivalWait() -> String {
        func state(_ address: String) -> String {
            guard let record = records[address] else { return "has not pinged" }
            if !isAlive(record) { return "is down" }
            if !record.pingedSinceStart { return "has not pinged since the monitor started" }
            guard let claim = record.claim else {
                return record.restarted ? "restarted without data it can vouch for" : "is up"
            }
            if claim.cluster != view.cluster {
                return "restarted holding \(claim), not of this cluster (\(ClusterID.text(view.cluster)))"
            }
            return "restarted holding \(claim), which does not cover view \(view.viewnum)"
        }
        var parts = ["primary \(view.primary) \(state(view.primary))"]
        if !view.backup.isEmpty {
            parts.append("backup \(view.backup) \(state(view.backup))" + (view.acked ? "" : " (view not acknowledged)"))
        }
        return "view \(view.viewnum) cannot go on: " + parts.joined(separator: ", ")
            + "; waiting for a member to restart with its data (kvctl revive HOST:PORT --accept-data-loss gives up on them)"
    }

    /// A new view with the same primary and another backup (an idle server, or none).
    private mutating func replaceBackup(leaving: Bool, _ effects: inout [MonitorEffect]) {
        let oldBackup = view.backup
        var excluded: Set<String> = [view.primary]
        // A backup that restarted is alive and empty, which is what a new backup is
        // anyway, so it may be picked again; one that stopped pinging or leaves may not.
        if leaving || !isHealthyIdleCandidate(oldBackup) { excluded.insert(oldBackup) }
        commit(
            View(viewnum: view.viewnum + 1, primary: view.primary, backup: pickIdle(excluding: excluded)),
            reason: leaving ? .backupLeft : .backupFailed, clearsRestartOf: [oldBackup], &effects)
    }

    // MARK: - What the monitor knows of a server

    /// A server that pinged between ticks t and t+1 has missed no ping at tick t+1, and has
    /// missed `deadPings` pings at tick t+1+deadPings: that tick declares it dead.
    private func isAlive(_ record: ServerRecord) -> Bool {
        ticks - record.lastPingTick <= config.deadPings
    }

    private func role(of address: String) -> ServerInfo.Role {
        address == view.primary ? .primary : address == view.backup ? .backup : .idle
    }

    private func isLeaving(_ address: String) -> Bool {
        records[address]?.leaving ?? false
    }

    /// Evidence, not a grace period, that `address` is up in the current view: it pinged
    /// since this monitor started, within the last `confirmationTicks` ticks, with the
    /// current view number. Planned changes (which nothing forces) wait for it, so a
    /// server that died a moment ago, or whose record was only restored from disk, is
    /// not promoted into a view it would never acknowledge.
    private func isConfirmedInView(_ address: String) -> Bool {
        guard let record = records[address] else { return false }
        return isConfirmedAlive(address) && record.viewnum == view.viewnum
    }

    /// Like `isConfirmedInView`, for a primary, which may ping an older view number
    /// while its view is unacknowledged.
    private func isConfirmedAlive(_ address: String) -> Bool {
        guard let record = records[address] else { return false }
        return record.pingedSinceStart && !record.restarted && ticks - record.lastPingTick <= Self.confirmationTicks
    }

    /// Pings arrive once a tick; two allow for one late one.
    private static let confirmationTicks: UInt64 = 2

    /// Live, unrestarted, and able to serve in its role.
    private func isHealthy(_ address: String) -> Bool {
        guard let record = records[address] else { return false }
        return isAlive(record) && !record.restarted
    }

    /// The idle server to make backup: live, not leaving, holding no role, first by
    /// address so the choice is deterministic.
    private func pickIdle(excluding: Set<String>) -> String {
        records.keys.sorted().first { address in
            let record = records[address]!
            return !excluding.contains(address) && isAlive(record) && !record.leaving
                && !(record.claim.map(holdsForeignData) ?? false)
        } ?? ""
    }

    /// Whether `claim` proves data of a cluster other than this view's. Such a server is
    /// never made backup, whose transfer would replace that data, nor founds a cluster:
    /// it is the copy of a cluster whose monitor lost its view, or was pointed at the
    /// wrong monitor, and the operator decides (docs/DESIGN.md §3.12). At view 0 no
    /// cluster exists yet, so every claim is of another one; a view saved unnamed
    /// (cluster 0) takes any.
    private func holdsForeignData(_ claim: StateClaim) -> Bool {
        view.viewnum == 0 || (view.cluster != 0 && claim.cluster != view.cluster)
    }

    /// Whether `address` may be picked as the next backup after losing its role: a backup
    /// that restarted is alive and empty, which is what a new backup is anyway; one that
    /// stopped pinging is not.
    private func isHealthyIdleCandidate(_ address: String) -> Bool {
        guard address != view.primary, let record = records[address] else { return false }
        return isAlive(record)
    }

    // MARK: - Invariants

    /// What holds after every step, whatever the events (cheap enough for production:
    /// a violation is a bug, and a monitor that stops is restarted from its saved view).
    private func checkInvariants() {
        if view.viewnum == 0 {
            precondition(view.primary.isEmpty && view.backup.isEmpty && !view.acked, "view 0 names a server: \(view)")
            precondition(view.cluster == 0, "view 0 names a cluster")
        } else {
            precondition(!view.primary.isEmpty, "\(view) has no primary")
            precondition(view.primary != view.backup, "\(view) names one server twice")
            precondition(records[view.primary] != nil, "the primary of \(view) is unknown")
        }
        precondition(heldPings.isEmpty || saving != nil, "pings held with no save in flight")
        if let saving {
            switch saving.purpose {
            case .acknowledgement:
                precondition(
                    saving.view.viewnum == view.viewnum && saving.view.acked && !view.acked,
                    "acknowledging \(saving.view) from \(view)")
            case .change:
                precondition(
                    saving.view.viewnum == view.viewnum + 1 && !saving.view.acked,
                    "saving \(saving.view) from \(view)")
                // A revival may change the primary of an unacknowledged view: its candidate's
                // claim proves nothing was acknowledged in it (docs/DESIGN.md §3.12); an
                // operator's revival is a choice with data loss accepted.
                if case .change(_, let reason, _, _) = saving.purpose, reason == .revived || reason == .operatorRevival
                {
                    break
                }
                precondition(
                    view.viewnum == 0 || view.acked || saving.view.primary == view.primary,
                    "leaving unacknowledged \(view) for \(saving.view)")
            }
        }
    }
}
