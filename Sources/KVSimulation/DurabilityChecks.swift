import KVProtocol
import KVStorage
import ServerCore

/// The checks of the data directories (docs/DESIGN.md §3.12, docs/STORAGE.md):
/// - nothing leaves a server that reveals what its disk does not hold: at every `ok` or
///   `no such key` answer, the primary's disk holds (synced, under `always`) every record
///   up to the one the answer was made after, and both members' disks the answered
///   update itself; at every acceptance a backup sends its primary, its disk holds every
///   record it had applied (`checkRevealed`);
/// - every restart recovers the state the disk made durable: at least every synced
///   record, and exactly the state of the records up to where it stopped; a disk with a
///   flipped bit is reported damaged, set aside, and the server starts empty with no
///   claim (`checkRecovery`);
/// - every revival picks a server that recovered every acknowledged update
///   (`checkRevival`).
extension Simulation {
    /// A message reaches `server`'s driver as exchange `exchange`; `deliver` runs that
    /// step. Its answer, in that step or later, may reveal every record the server had
    /// logged by the step's end (a request held back is applied later, after more:
    /// checking against the LSN of then is weaker, never wrong).
    func arriving(at server: SimulatedServer, exchange: UInt64, _ message: Message, _ deliver: () -> Void) {
        var update: ClientSequence?
        if case .request(let request) = message, request.mayWrite {
            update = ClientSequence(clientID: request.clientID, seq: request.seq)
        }
        arrival = (exchange, update, false)
        if case .request(let request) = message, request.op == .get, server.storage != nil {
            keyOfGet[exchange] = request.key
        }
        deliver()
        if let arrival, !arrival.answered, server.storage != nil, let core = server.core {
            // A duplicated copy of the request arrives later; its answer may come from either.
            var lsn = core.lastLSN
            // A Get reveals its key as it was read: the record that last wrote it.
            if let key = keyOfGet[exchange], let storage = server.storage {
                lsn = min(lsn, storage.revealedLSN(ofGet: key))
            }
            revealedBy[exchange] = (min(revealedBy[exchange]?.lsn ?? .max, lsn), update)
        }
        arrival = nil
    }

    /// `server` sends `message` as the answer to exchange `exchange`.
    func checkRevealed(_ server: SimulatedServer, exchange: UInt64, _ message: Message) {
        guard let storage = server.storage, let core = server.core else { return }
        var lsn: UInt64
        let update: ClientSequence?
        if let current = arrival, current.exchange == exchange {
            // Answered within the step that received a copy: that copy's answer (made after
            // everything logged so far), or an earlier copy's held reply released now. An
            // earlier copy's note stays for its own answer: a copy answered at once (retry
            // later, on a full disk) must not leave the held one checked against records
            // logged since it was taken (an expiry's, seed 1000947 with --steps 80).
            (lsn, update) = (min(revealedBy[exchange]?.lsn ?? .max, core.lastLSN), current.update)
            arrival!.answered = true
        } else if let noted = revealedBy.removeValue(forKey: exchange) {
            (lsn, update) = noted
        } else {
            return
        }
        // A Get reveals its key: the record that last wrote it, as this process logged it
        // (a Get under the read lease leaves before later records are on disk, docs/DESIGN.md
        // §3.14). Read when it arrived, or, deferred, later: no later than it is answered.
        if case .reply = message, let key = keyOfGet.removeValue(forKey: exchange) {
            lsn = min(lsn, storage.revealedLSN(ofGet: key))
        }
        let what = engineTerm(storage)
        switch message {
        case .reply(let reply) where reply.status == .ok || reply.status == .noKey:
            statistics.durableRepliesChecked += 1
            if storage.durableLSN < lsn {
                return fail(
                    "\(server.address) answers a client (\(reply.status)) having \(what) only up to LSN "
                        + "\(storage.durableLSN), but the answer was made after LSN \(lsn)")
            }
            guard let update else { return }
            if let logged = storage.updateLSNs[update], storage.durableLSN < logged {
                return fail(
                    "\(server.address) answers client \(update.clientID)'s update #\(update.seq), logged as LSN "
                        + "\(logged), having \(what) only up to LSN \(storage.durableLSN)")
            }
            if let backup = self.server(named: core.view.backup), let backupStorage = backup.storage,
                let logged = backupStorage.updateLSNs[update], backupStorage.durableLSN < logged
            {
                return fail(
                    "\(server.address) answers client \(update.clientID)'s update #\(update.seq), but its backup "
                        + "\(backup.address) logged it as LSN \(logged) and has \(engineTerm(backupStorage)) only up to "
                        + "LSN \(backupStorage.durableLSN)")
            }
        case .backupAck(let ack) where ack.verdict == .accepted:
            statistics.durableAcksChecked += 1
            if storage.durableLSN < lsn {
                fail(
                    "\(server.address) accepts its primary's forward or chunk having \(what) only up to LSN "
                        + "\(storage.durableLSN), but it had applied up to LSN \(lsn)")
            }
        default:
            break
        }
    }

    private func engineTerm(_ storage: SimulatedStorage) -> String {
        storage.engine.policy == .always ? "synced" : "written"
    }

    /// A process opened its data directory and recovery found `opening`: the state of the
    /// ledger at some LSN from the last synced to the last written one, exactly; or, after
    /// a bit flipped in durable bytes, damage, with nothing recovered and no claim.
    /// `flipped`: the files that held a flipped bit when the process began to open the
    /// directory (an earlier start that crashed may have set some aside already).
    func checkRecovery(
        _ server: SimulatedServer, _ opening: StorageEngine<SimulatedDisk>.Opening, start: ServerStart,
        flipped: [String]
    ) {
        statistics.recoveriesChecked += 1
        let ledger = server.ledger
        let recovered = opening.recovered
        let settingDamageAside = server.settingDamageAside
        server.settingDamageAside = false
        if !flipped.isEmpty || settingDamageAside {
            // An earlier start that found the damage may have set every damaged file aside
            // before its machine crashed: then the directory is new.
            guard opening.damage != nil || (flipped.isEmpty && recovered.lastLSN == 1) else {
                return fail(
                    "\(server.address) recovered its data directory without noticing a flipped bit in "
                        + "\(flipped.isEmpty ? "files being set aside" : flipped.joined(separator: ", ")): "
                        + opening.report)
            }
            guard recovered.store.isEmpty, recovered.duplicates.count == 0, recovered.claim == nil,
                recovered.lastLSN == 1
            else {
                return fail(
                    "\(server.address) found its data directory damaged but did not start empty: \(opening.report)")
            }
            statistics.damagedRecoveries += 1
            server.ledger.opened(ledger.empty(), start: start)
            let view = serviceView
            if view.primary == server.address || view.backup == server.address {
                livenessExemption = "\(server.address)'s data directory was damaged (a flipped bit)"
            }
            return
        }
        if let damage = opening.damage {
            return fail("\(server.address)'s data directory is damaged though no bit flipped: \(damage)")
        }
        // Without the start record this process wrote after what it recovered.
        let lsn = recovered.lastLSN - 1
        // A transfer whose snapshot was being written when the machine crashed: its state,
        // whole, or the one before.
        if let replacement = ledger.replacement, lsn == replacement.lsn {
            return checkRecovered(server, opening, lsn: lsn, ledger.state(replacedBy: replacement), start: start)
        }
        guard lsn >= ledger.synced.lsn else {
            return fail(
                "\(server.address) recovered its data directory up to LSN \(lsn), but LSN \(ledger.synced.lsn) "
                    + "was synced: \(opening.report)")
        }
        guard lsn <= ledger.lastWritten else {
            return fail(
                "\(server.address) recovered its data directory up to LSN \(lsn), beyond the last written, "
                    + "\(ledger.lastWritten)")
        }
        checkRecovered(server, opening, lsn: lsn, ledger.state(at: lsn), start: start)
    }

    /// Recovery found `opening` at `lsn`, where the ledger holds `expected`: the two must be
    /// the same, and the claim as the rules on reboots make it.
    private func checkRecovered(
        _ server: SimulatedServer, _ opening: StorageEngine<SimulatedDisk>.Opening, lsn: UInt64,
        _ expected: DiskLedger.State, start: ServerStart
    ) {
        let recovered = opening.recovered
        let expectedClaim = expected.provenClaim(bootID: start.bootID)
        if recovered.store != expected.store {
            let differing = recovered.store.differences(from: expected.store, this: "recovered", other: "written")
            return fail(
                "\(server.address) recovered a store at LSN \(lsn) that is not the one its records make: "
                    + differing.joined(separator: "; "))
        }
        if recovered.duplicates.entriesInOrder() != expected.duplicates.entriesInOrder() {
            return fail(
                "\(server.address) recovered a duplicate table at LSN \(lsn) that is not the one its records make")
        }
        if recovered.claim != expectedClaim {
            return fail(
                "\(server.address) recovered the claim \(recovered.claim.map { "\($0)" } ?? "none") at LSN \(lsn), "
                    + "but its records make \(expectedClaim.map { "\($0)" } ?? "none")")
        }
        if lsn > server.ledger.synced.lsn { statistics.unsyncedRecordsRecovered += 1 }
        if opening.tornTail != nil { statistics.tornTailsCut += 1 }
        server.ledger.opened(expected, start: start)
    }

    /// Client `clientID`'s update `seq` was acknowledged.
    func noteAcknowledged(clientID: UInt64, seq: UInt64) {
        acknowledgedUpdates[clientID] = max(acknowledgedUpdates[clientID] ?? 0, seq)
    }

    /// `monitor` revived `address`. Whatever that server comes back with is at least what
    /// its disk holds durably, which under `always` must hold every update acknowledged so
    /// far (the claim the monitor saw may be older than the disk: a ping overtaken by
    /// later ones), or, if its machine crashed while a transfer was being written, that
    /// transfer's state. A client's updates are applied in order, so holding its latest
    /// acknowledged one is holding them all.
    func checkRevival(of address: String, by monitor: String) {
        guard diskSettings?.policy == .always, let server = server(named: address) else { return }
        statistics.revivalsChecked += 1
        let ledger = server.ledger
        guard let missing = missingAcknowledgedUpdate(in: ledger.synced.duplicates) else { return }
        if let replacement = ledger.replacement,
            missingAcknowledgedUpdate(in: ledger.state(replacedBy: replacement).duplicates) == nil
        {
            return
        }
        fail("\(monitor) revives \(address), but its disk holds \(missing)")
    }

    /// A server took up the view it was revived into: it serves from what it holds now,
    /// which must hold every update acknowledged so far.
    func checkRevived(_ server: SimulatedServer) {
        guard let core = server.core else { return }
        statistics.revivalsChecked += 1
        if let missing = missingAcknowledgedUpdate(in: core.duplicates) {
            fail("\(server.address) serves the view it was revived into, but holds \(missing)")
        }
    }

    /// An acknowledged update `table` does not hold, described; nil if it holds them all.
    private func missingAcknowledgedUpdate(in table: DuplicateTable) -> String? {
        for (clientID, seq) in acknowledgedUpdates.sorted(by: { $0.key < $1.key }) {
            let held = table.lookup(clientID)?.seq ?? 0
            if held < seq { return "client \(clientID)'s updates up to #\(held), and #\(seq) was acknowledged" }
        }
        return nil
    }
}
