import KVProtocol
import ServerCore

/// The read lease's checks (docs/DESIGN.md §3.14), after every step in which a primary
/// answered a Get on its own, each aimed at one way to get the lease wrong:
/// - no server has served a newer view: a promoted backup waits out what it granted;
/// - the backup's promise to this primary in this view (or the wait after its start)
///   still runs on its own clock: the primary counts its lease from when the batch left,
///   shortened for drift, never from when the answer came;
/// - every key the primary counts as settled has the value its backup holds: a Get
///   answered on its own never reveals an update still in flight.
/// (`checkRevealed` checks that the settled updates are on the primary's disk.)
extension Simulation {
    func checkLeaseReads(_ server: SimulatedServer) {
        guard let core = server.core, core.counters.leaseReads > server.leaseReadsChecked else { return }
        server.leaseReadsChecked = core.counters.leaseReads
        statistics.leaseReadsChecked += 1
        let view = core.view
        let what = "\(server.address) answers a Get under its lease in view \(view.viewnum)"
        if newestViewServed > view.viewnum {
            return fail("\(what), but view \(newestViewServed) has been served")
        }
        guard let backup = self.server(named: view.backup), let backupCore = backup.core else { return }
        let backupClock = backup.leaseClock(at: now)
        let promise = backupCore.leasePromise(toPrimary: server.address, ofView: view.viewnum)
        if promise <= backupClock {
            return fail(
                "\(what), but its backup \(backup.address) promised it nothing beyond \(promise) ns on its "
                    + "clock, which reads \(backupClock) ns")
        }
        guard backupCore.view.viewnum == view.viewnum, backupCore.role == .backup else { return }
        let keys = Set(core.store.values.keys).union(backupCore.store.values.keys)
        for key in keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) where core.isSettled(key) {
            let (primaryValue, backupValue) = (core.store.value(key), backupCore.store.value(key))
            if primaryValue != backupValue {
                return fail(
                    "\(what), counting \(key.utf8String) as settled at \(primaryValue.map(\.utf8String) ?? "nothing"), "
                        + "but its backup \(backup.address) holds \(backupValue.map(\.utf8String) ?? "nothing")")
            }
        }
    }
}
