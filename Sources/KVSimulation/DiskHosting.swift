import KVStorage
import ServerCore

/// Servers' machines and disks: opening a data directory at a process start, the crashes
/// of a machine (at once, or in the middle of the engine's next disk operations), a failed
/// fsync, and the power cut that takes every machine down at once.
extension Simulation {
    /// Of the machine crashes under `always`, how many in a thousand flip a durable bit.
    static let bitFlipPermille = 80
    /// A fault armed on a disk (a crash at a later operation, a failed sync) that has not
    /// struck this long after is settled: a crash happens at once, a sync failure is
    /// called off. Shorter than the gap between faults, so that a safe schedule's
    /// stability, checked when the fault is planned, still holds when it strikes.
    static let diskFaultWindow: UInt64 = 50_000
    /// Of the transfers completed in risky schedules with data directories, how many in a
    /// thousand are followed by a power cut before the view can be acknowledged.
    static let transferPowerCutPermille = 250

    /// Opens the data directory of a process that is starting, and checks what recovery
    /// found (`checkRecovery`). Nil if the machine crashed in the middle of it.
    func openDataDirectory(
        of server: SimulatedServer
    ) -> (engine: StorageEngine<SimulatedDisk>, opening: StorageEngine<SimulatedDisk>.Opening)? {
        let settings = diskSettings!
        let disk = server.disk!
        let engine = StorageEngine(
            fileSystem: disk, policy: settings.policy, preparedSpace: defaultPreparedSpace)
        let start = ServerStart(incarnation: server.processIncarnation, bootID: server.bootID, policy: settings.policy)
        // Now and then the machine crashes again while recovery cuts a torn tail, sets
        // damaged files aside or starts the log: the next start must cope with what it left.
        if faultsActive, random.chance(permille: 50) { disk.crashesAfter = random.below(12) }
        // kv-server cannot start on a full disk (its start record must be written): not
        // simulated, the space returns before a process starts.
        disk.full = false
        let flipped = disk.filesWithFlippedBits
        if !flipped.isEmpty { server.settingDamageAside = true }
        do {
            let opening = try engine.open(
                start: start, duplicateCapacity: server.config.duplicateTableCapacity,
                setAsideName: "damaged-\(server.incarnation)")
            disk.crashesAfter = nil
            trace.record(now, .note("\(server.address) opens its data directory: \(opening.report)"))
            checkRecovery(server, opening, start: start, flipped: flipped)
            return (engine, opening)
        } catch is SimulatedDisk.MachineCrash {
            trace.record(now, .note("\(server.address)'s machine crashes while the process recovers its data"))
            // The start record is the last thing an opening writes: written and not synced,
            // it is the crash's to keep or lose, after what the opening recovered.
            if engine.lastWritten == engine.lastSynced + 1 {
                let lsn = engine.lastWritten
                let afterDamage = !flipped.isEmpty || server.settingDamageAside
                if afterDamage {
                    server.settingDamageAside = false
                } else if lsn - 1 != server.ledger.replacement?.lsn
                    && (lsn - 1 < server.ledger.synced.lsn || lsn - 1 > server.ledger.lastWritten)
                {
                    fail(
                        "\(server.address) recovered its data directory up to LSN \(lsn - 1), but LSN "
                            + "\(server.ledger.synced.lsn) was synced and \(server.ledger.lastWritten) written")
                    return nil
                }
                server.ledger.startInterrupted(start, lsn: lsn, afterDamage: afterDamage)
            }
            statistics.count(.crashDuringDiskOperation)
            crashMachine(of: server)
            return nil
        } catch {
            fail("\(server.address) cannot open its data directory: \(error)")
            return nil
        }
    }

    /// The server's machine crashes (its process, if running, is already gone): a new
    /// boot, and the disk keeps its durable bytes and what the losses the seed picks leave
    /// of the rest. Under `always`, now and then a bit of the durable bytes flips first.
    func crashMachine(of server: SimulatedServer) {
        statistics.count(.machineCrash)
        server.bootID = Self.newBootID(&random)
        guard let disk = server.disk else { return }
        if diskSettings?.policy == .always, random.chance(permille: Self.bitFlipPermille),
            let flipped = disk.flipDurableBit(random: &random)
        {
            statistics.count(.bitFlip)
            trace.record(now, .note("\(server.address)'s disk flips \(flipped)"))
        }
        let loss = random.pick(SimulatedDisk.Loss.allCases)
        let directoryLoss = [SimulatedDisk.DirectoryLoss.nothingLost, .somePrefixKept, .everythingLost][
            random.weighted([2, 1, 1])]
        let lost = disk.powerLoss(loss, directoryLoss: directoryLoss, random: &random)
        if lost.lostBytes > 0 { statistics.crashesLosingUnsyncedBytes += 1 }
        if lost.lostOperations > 0 { statistics.crashesLosingDirectoryOperations += 1 }
        trace.record(now, .note("\(server.address)'s machine crashes (\(loss), \(directoryLoss)): \(lost)"))
    }

    /// A fresh boot id, 16 bytes as the kernel's.
    static func newBootID(_ random: inout SimulationRandom) -> [UInt8] {
        let high = random.next()
        let low = random.next()
        return (0..<16).map { UInt8(truncatingIfNeeded: ($0 < 8 ? high : low) >> (8 * UInt64($0 % 8))) }
    }

    /// A server crash the fault planner picked: of the process alone, of the machine at
    /// once, or of the machine in the middle of its next disk operations (in a group
    /// commit, a log roll, a snapshot, a manifest replaced), so that a write, a rename or
    /// a creation waiting for its sync is caught.
    func crashServer(_ victim: SimulatedServer) {
        statistics.count(.serverCrash)
        guard let disk = victim.disk else { return stop(victim, why: "crash", crash: .process) }
        switch random.weighted([4, 4, 3]) {
        case 0:
            stop(victim, why: "crash (kill -9)", crash: .process)
        case 1:
            stop(victim, why: "its machine crashes", crash: .machine)
        default:
            // Up to 16 operations: far enough into a transfer's snapshot, a log roll or a
            // manifest's replacement to reach its rename and its directory sync.
            disk.crashesAfter = random.below(16)
            trace.record(
                now,
                .note("\(victim.address)'s machine will crash during its disk operation #\(disk.crashesAfter! + 1)"))
            queue.schedule(
                .diskCrashDue(server: victim.node - 1, incarnation: victim.incarnation), at: now + Self.diskFaultWindow)
        }
    }

    /// The disk fault armed on `server` has not struck within its window.
    func settleDiskFault(_ server: SimulatedServer, incarnation: UInt64, crash: Bool) {
        guard server.isUp, server.incarnation == incarnation, let disk = server.disk else { return }
        if crash, disk.crashesAfter != nil {
            stop(server, why: "its machine crashes", crash: .machine)
        } else if !crash {
            disk.nextSyncFails = nil
        }
    }

    /// The next fdatasync of `victim` fails (an I/O error): the engine throws and the
    /// process ends, to recover from disk at its next start. Half of the time the kernel
    /// drops the pages it could not write: under `everysec` and `no` they may hold
    /// acknowledged updates, and the failure the process records voids its claim.
    func failSync(_ victim: SimulatedServer) {
        guard let disk = victim.disk, diskSettings != nil else { return }
        statistics.count(.fsyncError)
        let dropsPages = random.chance(permille: 500)
        disk.nextSyncFails = dropsPages
        trace.record(
            now,
            .note("\(victim.address)'s next fdatasync fails" + (dropsPages ? ", its unsynced pages dropped" : "")))
        queue.schedule(
            .syncFailureExpires(server: victim.node - 1, incarnation: victim.incarnation),
            at: now + Self.diskFaultWindow)
    }

    /// `victim`'s disk is full for 0.1 to 2 s: its writes fail with ENOSPC, its server waits
    /// (records kept, retried every second; a primary refuses updates meanwhile), and
    /// must lose nothing. The space returns even if the process ends meanwhile.
    func fillDisk(_ victim: SimulatedServer) {
        guard let disk = victim.disk, diskSettings != nil else { return }
        statistics.count(.diskFull)
        disk.full = true
        let lasting = random.between(100_000, 2_000_000)
        trace.record(now, .note("\(victim.address)'s disk is full for \(lasting / 1000) ms"))
        _ = scheduleTimer(at: now + lasting, owner: { true }) { [self] in
            disk.full = false
            trace.record(now, .note("\(victim.address)'s disk has space again"))
        }
    }

    /// A backup took the whole state of a view: its view is acknowledged only once its
    /// primary's next ping reaches the monitor. Risky schedules with data directories cut
    /// the power now and then in that window, when the backup's claim of the new view is
    /// on disk and the monitor does not yet know the view is safe to promote it in (docs/
    /// DESIGN.md §3.12: a backup of an unacknowledged view is never revived; its primary
    /// is). Not safe schedules: if the primary's claim of the view is not yet synced,
    /// nobody may be revived (docs/SIMULATION.md, "Findings").
    func transferCompleted() {
        guard risky, faultsActive, diskSettings != nil, random.chance(permille: Self.transferPowerCutPermille)
        else { return }
        queue.schedule(.powerCut, at: now + random.between(100, 3_000))
    }

    /// Every machine loses power at once: every server and monitor process, running or
    /// not, and every disk loses what it had not made durable; the machines boot anew.
    /// etcd, on machines of its own, keeps running.
    func cutPower() {
        statistics.count(.powerCut)
        trace.record(now, .note("power cut: every server and monitor goes down at once"))
        for monitor in monitors where monitor.isUp {
            crashMonitor(monitor)
            queue.schedule(.restartMonitor(node: monitor.node), at: now + random.between(100_000, 1_200_000))
        }
        for server in servers {
            if server.isUp {
                stop(server, why: "power cut", crash: .machine)
            } else {
                crashMachine(of: server)
            }
        }
        if diskSettings?.policy != .always {
            // Without data directories both copies are gone; under `everysec` and `no` no
            // claim survives a reboot, so nobody is revived (docs/DESIGN.md §3.12).
            livenessExemption =
                diskSettings == nil
                ? "a power cut took every copy of the data"
                : "a power cut voided every claim (fsync \(diskSettings!.policy))"
        }
    }
}
