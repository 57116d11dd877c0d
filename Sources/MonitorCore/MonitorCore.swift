import KVProtocol

/// The view service as a deterministic state machine (DESIGN §2).
///
/// Inputs are pings and ticks, each with the caller's clock reading; nothing here reads a
/// clock, sleeps or does I/O other than through the injected `ViewStore`. Every rule
/// that changes the view lives in `evaluate()`, run after each ping and each tick, so a
/// change happens as soon as its cause is known and a test can step through it.
public struct MonitorCore {
    public private(set) var view: View
    public private(set) var ticks: UInt64 = 0
    public let config: MonitorConfig
    private var records: [String: ServerRecord] = [:]
    private let store: any ViewStore
    private var pendingEvents: [MonitorEvent] = []
    private var lastPersistError: String?
    /// The view the last successful switchover started from, and the view it made.
    private var lastSwitchover: (from: UInt64, to: View)?

    /// - Parameters:
    ///   - restoredView: the view found in the state directory, if any. Its primary and
    ///     backup get a full grace period, as if they had just pinged.
    public init(
        config: MonitorConfig = MonitorConfig(), store: any ViewStore, restoredView: View? = nil, now: UInt64 = 0
    ) {
        self.config = config
        self.store = store
        self.view = restoredView ?? .initial
        for address in [view.primary, view.backup] where !address.isEmpty {
            records[address] = ServerRecord(
                lastPingTick: 0, lastPingMillis: now, viewnum: view.viewnum, restarted: false, reportedDead: false,
                pingedSinceStart: false)
        }
    }

    /// Events since the last call, oldest first.
    public mutating func drainEvents() -> [MonitorEvent] {
        defer { pendingEvents.removeAll(keepingCapacity: true) }
        return pendingEvents
    }

    /// A server's heartbeat. Returns the view to send back.
    ///
    /// - Parameter leaving: the server is shutting down and asks to be relieved of its
    ///   role (DESIGN §2 extended: planned hand-over).
    public mutating func ping(from address: String, viewnum: UInt64, leaving: Bool = false, at now: UInt64) -> View {
        // "" means "no server" in a view: a ping from it must never name a primary.
        guard !address.isEmpty else { return view }
        if records[address] == nil { pendingEvents.append(.serverJoined(address: address)) }
        var record =
            records[address]
            ?? ServerRecord(
                lastPingTick: ticks, lastPingMillis: now, viewnum: viewnum, restarted: false, reportedDead: false)
        record.lastPingTick = ticks
        record.lastPingMillis = now
        record.viewnum = viewnum
        record.reportedDead = false
        record.pingedSinceStart = true
        if leaving && !record.leaving {
            pendingEvents.append(.serverLeaving(address: address, role: role(of: address)))
        }
        record.leaving = leaving

        if view.viewnum == 0 {
            records[address] = record
            // A server on its way out must not found the cluster: it would exit at once,
            // leaving a view 1 whose primary nobody else may replace.
            if !leaving {
                commit(View(viewnum: 1, primary: address, backup: "", acked: false), reason: .firstPrimary)
            }
            return view
        }

        if address == view.primary {
            if viewnum == view.viewnum {
                if !view.acked {
                    var acked = view
                    acked.acked = true
                    if persist(acked) {
                        view = acked
                        pendingEvents.append(.viewAcknowledged(view))
                    }
                }
            } else if viewnum == 0 && view.acked && !record.restarted {
                // An unacknowledged view's primary may ping 0 because it never received
                // its view; only after it acknowledged is a 0 a restart.
                record.restarted = true
                pendingEvents.append(.serverRestarted(address: address, role: .primary))
            }
        } else if address == view.backup, viewnum == 0, !record.restarted {
            record.restarted = true
            pendingEvents.append(.serverRestarted(address: address, role: .backup))
        }
        records[address] = record
        evaluate()
        return view
    }

    /// One ping interval has passed.
    public mutating func tick(at now: UInt64) {
        ticks += 1
        for (address, record) in records where !isAlive(record) && !record.reportedDead {
            records[address]?.reportedDead = true
            pendingEvents.append(.serverDied(address: address))
        }
        for (address, record) in records
        where ticks - record.lastPingTick > config.forgetAfterTicks && address != view.primary
            && address != view.backup
        {
            records[address] = nil
        }
        evaluate()
    }

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
    /// - Parameter expectedViewnum: act only if this is still the current view. A repeat
    ///   of the request that succeeded last gets the same answer, so a client may retry.
    public mutating func switchover(expectedViewnum: UInt64, at now: UInt64) -> Result<View, SwitchoverRefusal> {
        if let last = lastSwitchover, last.from == expectedViewnum { return .success(last.to) }
        guard view.viewnum > 0, !view.primary.isEmpty else { return .failure(.noPrimary) }
        guard expectedViewnum == view.viewnum else { return .failure(.viewChanged(view)) }
        guard view.acked else { return .failure(.notAcknowledged(view)) }
        guard !view.backup.isEmpty else { return .failure(.noBackup) }
        guard let record = records[view.backup], isAlive(record) else {
            return .failure(.backupUnavailable(address: view.backup, reason: "is not pinging"))
        }
        guard !record.restarted else {
            return .failure(.backupUnavailable(address: view.backup, reason: "restarted and holds no data"))
        }
        guard !record.leaving else {
            return .failure(.backupUnavailable(address: view.backup, reason: "is shutting down"))
        }
        guard isConfirmedInView(view.backup) else { return .failure(.backupUnconfirmed(address: view.backup)) }
        let oldPrimary = view.primary
        let newBackup =
            isHealthy(oldPrimary) && !isLeaving(oldPrimary) ? oldPrimary : pickIdle(excluding: [view.backup])
        let next = View(viewnum: view.viewnum + 1, primary: view.backup, backup: newBackup)
        if commit(next, reason: .switchover) {
            lastSwitchover = (expectedViewnum, next)
            return .success(next)
        }
        return .failure(.notSaved(lastPersistError ?? "unknown error"))
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
        return record.pingedSinceStart && !record.restarted && ticks - record.lastPingTick <= Self.confirmationTicks
            && record.viewnum == view.viewnum
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
            !excluding.contains(address) && isAlive(records[address]!) && !records[address]!.leaving
        } ?? ""
    }

    /// Applies the rules of DESIGN §2.3 to the current state.
    private mutating func evaluate() {
        guard view.viewnum > 0 else { return }
        let primaryHealthy = isHealthy(view.primary)
        let hasBackup = !view.backup.isEmpty
        let backupHealthy = hasBackup && isHealthy(view.backup)

        if view.acked {
            if !primaryHealthy {
                // Only the backup holds the data; without a healthy one nothing can change.
                guard backupHealthy else { return }
                let newPrimary = view.backup
                let oldPrimary = view.primary
                let backup = pickIdle(excluding: [newPrimary])
                // A restarted primary is alive again and may come back as the new backup;
                // it is empty, and the new primary transfers the state to it.
                // Fix: forget the restart only once the new view is saved; if saving fails,
                // the old view stays and so must the mark, or the empty server would be
                // taken as healthy and never replaced (DESIGN §2.3, §2.6).
                if commit(View(viewnum: view.viewnum + 1, primary: newPrimary, backup: backup), reason: .primaryFailed)
                {
                    records[oldPrimary]?.restarted = false
                }
            } else if isLeaving(view.primary) && backupHealthy && !isLeaving(view.backup) {
                // A planned leave is a switchover that does not keep the old primary.
                // Until the backup is confirmed in this view, the primary waits.
                if isConfirmedInView(view.backup) {
                    let backup = pickIdle(excluding: [view.primary, view.backup])
                    commit(View(viewnum: view.viewnum + 1, primary: view.backup, backup: backup), reason: .primaryLeft)
                }
            } else if hasBackup && !backupHealthy {
                replaceBackup(leaving: false)
            } else if hasBackup && isLeaving(view.backup) {
                // Only while the primary is confirmed alive: if it died a moment ago, the
                // leaving backup holds the only copy and is promoted once the death shows.
                if isConfirmedAlive(view.primary) { replaceBackup(leaving: true) }
            } else if !hasBackup {
                let backup = pickIdle(excluding: [view.primary])
                if !backup.isEmpty {
                    commit(View(viewnum: view.viewnum + 1, primary: view.primary, backup: backup), reason: .backupAdded)
                }
            }
        } else if primaryHealthy && hasBackup && !backupHealthy {
            // The one change allowed before the acknowledgement: nobody is promoted, so a
            // primary stuck transferring to a dead (or departing) backup gets a live one.
            replaceBackup(leaving: false)
        } else if primaryHealthy && hasBackup && isLeaving(view.backup) && isConfirmedAlive(view.primary) {
            replaceBackup(leaving: true)
        }
    }

    /// A new view with the same primary and another backup (an idle server, or none).
    private mutating func replaceBackup(leaving: Bool) {
        let oldBackup = view.backup
        var excluded: Set<String> = [view.primary]
        // A backup that restarted is alive and empty, which is what a new backup is
        // anyway, so it may be picked again; one that stopped pinging or leaves may not.
        if leaving || !isHealthyIdleCandidate(oldBackup) { excluded.insert(oldBackup) }
        let backup = pickIdle(excluding: excluded)
        // Fix: clear the restart mark only once the new view is saved (see above).
        let reason: ViewChangeReason = leaving ? .backupLeft : .backupFailed
        if commit(View(viewnum: view.viewnum + 1, primary: view.primary, backup: backup), reason: reason) {
            records[oldBackup]?.restarted = false
        }
    }

    /// Whether `address` may be picked as the next backup after losing its role: a backup
    /// that restarted is alive and empty, which is what a new backup is anyway; one that
    /// stopped pinging is not.
    private func isHealthyIdleCandidate(_ address: String) -> Bool {
        guard address != view.primary, let record = records[address] else { return false }
        return isAlive(record)
    }

    /// Returns whether `next` was saved and is now in force.
    @discardableResult
    private mutating func commit(_ next: View, reason: ViewChangeReason) -> Bool {
        guard persist(next) else { return false }
        let previous = view
        view = next
        pendingEvents.append(.viewChanged(from: previous, to: next, reason: reason))
        return true
    }

    private mutating func persist(_ next: View) -> Bool {
        do {
            try store.save(next)
            lastPersistError = nil
            return true
        } catch {
            lastPersistError = "\(error)"
            pendingEvents.append(.persistFailed(wanted: next, error: "\(error)"))
            return false
        }
    }
}
