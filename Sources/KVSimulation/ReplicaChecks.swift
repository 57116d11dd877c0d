import KVProtocol
import ServerCore

/// The replication invariants, checked as the servers step:
/// - only the primary of a view answers in it (`checkAnswer`);
/// - when a primary acknowledges a view with a backup, the backup holds exactly the
///   primary's data and duplicate table (`checkAcknowledgement`);
/// - whenever a serving primary has no reply and no update waiting for its backup (an
///   expiry is an update no reply waits for), the two agree (`checkAgreement`): every
///   update it applied was acknowledged, and the backup applies nothing else.
extension Simulation {
    /// A server is about to send an `ok` or `no such key` answer.
    func checkAnswer(_ server: SimulatedServer) {
        let view = server.core!.view
        let primary = primary(of: view.viewnum)
        statistics.answersChecked += 1
        if view.primary != server.address || primary != server.address {
            fail(
                "\(server.address) answers a client in view \(view.viewnum), whose primary is "
                    + "\(primary.map { $0.isEmpty ? "nobody" : $0 } ?? "unknown to the monitor")")
        }
    }

    /// After every step: if the primary's ping now carries its view's number for the
    /// first time (it acknowledges a view with a backup), the backup must hold its state.
    /// `before`, for a chunk's answer, is the primary's core just before that step (the
    /// store does not change while a transfer runs, but the step may apply deferred
    /// requests once it is done).
    func checkAcknowledgement(_ server: SimulatedServer, pingBefore: UInt64, before: ServerCore?) {
        guard let core = server.core, core.role == .primary, !core.view.backup.isEmpty,
            core.pingViewnum == core.view.viewnum, pingBefore != core.pingViewnum
        else { return }
        let viewnum = core.view.viewnum
        // A backup that crashed (or restarted, and has no view yet) after taking the last
        // chunk cannot be compared; one in a newer view has moved on.
        guard let backup = self.server(named: core.view.backup), let backupCore = backup.core,
            backupCore.view.viewnum > 0, backupCore.view.viewnum <= viewnum
        else { return }
        guard backupCore.view.viewnum == viewnum else {
            fail(
                "\(server.address) acknowledges view \(viewnum), but its backup \(backup.address) is still in "
                    + "view \(backupCore.view.viewnum)")
            return
        }
        synchronisedBackups[viewnum] = (backup.address, backup.incarnation)
        statistics.acknowledgementsChecked += 1
        if let difference = Self.difference(before ?? core, backupCore) {
            fail(
                "\(server.address) acknowledges view \(viewnum), but its backup \(backup.address) "
                    + "holds other state: \(difference)")
        }
    }

    /// Checks the pair `server` belongs to, as primary or as backup, if it is quiet.
    func checkAgreement(around server: SimulatedServer) {
        guard let core = server.core, core.view.viewnum > 0, !core.view.backup.isEmpty else { return }
        let primaryAddress = core.view.primary
        guard let primary = self.server(named: primaryAddress), let primaryCore = primary.core,
            primaryCore.view.viewnum == core.view.viewnum, primaryCore.isServing, primaryCore.backupSynchronized,
            primaryCore.pendingReplies == 0, primaryCore.deferredRequests == 0, primaryCore.unacknowledgedUpdates == 0,
            let synchronised = synchronisedBackups[core.view.viewnum], synchronised.address == core.view.backup,
            let backup = self.server(named: synchronised.address), backup.incarnation == synchronised.incarnation,
            let backupCore = backup.core, backupCore.view.viewnum == core.view.viewnum
        else { return }
        statistics.agreementsChecked += 1
        if let difference = Self.difference(primaryCore, backupCore) {
            fail(
                "\(primary.address) serves view \(core.view.viewnum) with no reply waiting, but its backup "
                    + "\(backup.address) holds other state: \(difference)")
        }
    }

    /// How two servers' data or duplicate tables differ, or nil when they agree.
    static func difference(_ primary: ServerCore, _ backup: ServerCore) -> String? {
        if primary.store != backup.store {
            return primary.store.differences(from: backup.store, this: "primary", other: "backup")
                .joined(separator: "; ")
        }
        let primaryDuplicates = primary.duplicates.entriesInOrder()
        let backupDuplicates = backup.duplicates.entriesInOrder()
        if primaryDuplicates != backupDuplicates {
            return "duplicate tables differ: primary \(primaryDuplicates.map { "\($0.clientID)#\($0.seq)" }), "
                + "backup \(backupDuplicates.map { "\($0.clientID)#\($0.seq)" })"
        }
        return nil
    }
}
