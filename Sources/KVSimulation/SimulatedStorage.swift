import KVProtocol
import KVStorage
import NodeDriver
import ServerCore

/// A simulated kv-server's `ServerStorage`: the production `StorageEngine` over the
/// server's `SimulatedDisk`, driven as `KVServices.DiskLog` drives it on its I/O thread,
/// but inline and in simulated time (docs/SIMULATION.md, "Disks").
///
/// Work is carried out in rounds, one at a time, each an event of its own: the records
/// queued since the last round go to the engine as one write; under `always` its sync
/// ends the round a sync's time later, and only then is `persisted` reported, so records
/// appended meanwhile gather for the next write (group commit), and a crash in between
/// finds the write unsynced. Under `everysec` the round reports once written, and a
/// sync runs once a second; under `no` only the engine's own syncs (snapshots, manifest)
/// run. A compaction's snapshot is written a while after the log rolls, as on the
/// daemon's second thread, and installed by a later round. A write refused for want of
/// space (`DiskFull`, the engine having undone it) puts its work back at the head of the
/// queue and the next round comes a second later, the core told the disk is full until a
/// round succeeds; a compaction that finds the disk full is abandoned, and the next waits
/// a minute: as `DiskLog` does. Any other engine call that throws ends the process, as
/// `DiskLog` does.
///
/// One per process: a crash drops it with what it had queued, and its pending events
/// find it gone.
final class SimulatedStorage: ServerStorage {
    private enum Work {
        case records([(lsn: UInt64, record: DurableRecord)])
        case compact(SnapshotState)
        case install(generation: UInt64, lsn: UInt64, bytes: Int)
        case replace(SnapshotState)
        /// `everysec`'s fdatasync of whatever was written in the last second.
        case sync
    }

    let engine: StorageEngine<SimulatedDisk>
    unowned let simulation: Simulation
    unowned let server: SimulatedServer
    let incarnation: UInt64
    let settings: DiskSettings
    private var queue: [Work] = []
    private var roundScheduled = false
    private var busy = false
    private var compacting = false
    private var persisted: ((UInt64) -> Void)?
    private var diskFullChanged: ((Bool) -> Void)?
    /// The core was told the disk is full.
    private var reportedFull = false
    /// After a compaction abandoned for want of space, none starts before this.
    private var nextCompactionAt: UInt64 = 0
    /// The LSN each update was logged under by this process, by client and sequence
    /// number, for the checks of what a reply reveals.
    private(set) var updateLSNs: [ClientSequence: UInt64] = [:]
    /// The LSN of the last record that wrote each key, and of the last that wrote every
    /// key (a deletion of all, a transfer's snapshot): what a Get of the key reveals.
    private var keyLSNs: [Bytes: UInt64] = [:]
    private var everyKeyLSN: UInt64 = 0

    init(
        engine: StorageEngine<SimulatedDisk>, simulation: Simulation, server: SimulatedServer, incarnation: UInt64,
        settings: DiskSettings
    ) {
        self.engine = engine
        self.simulation = simulation
        self.server = server
        self.incarnation = incarnation
        self.settings = settings
    }

    private var isCurrent: Bool { server.isUp && server.incarnation == incarnation }

    /// What `persisted` reports: synced records under `always`, written ones otherwise.
    var durableLSN: UInt64 { engine.policy == .always ? engine.lastSynced : engine.lastWritten }

    // MARK: - ServerStorage

    func start(persisted: @escaping (UInt64) -> Void, diskFull: @escaping (Bool) -> Void) {
        diskFullChanged = diskFull
        start(persisted: persisted)
    }

    func start(persisted: @escaping (UInt64) -> Void) {
        self.persisted = persisted
        guard engine.policy == .everysec else { return }
        _ = simulation.scheduleTimer(
            at: simulation.now + 1_000_000, every: 1_000_000, server: server.node - 1, owner: { [self] in isCurrent }
        ) {
            [self] in
            if engine.lastSynced < engine.lastWritten { enqueue(.sync) }
        }
    }

    func append(_ record: DurableRecord, lsn: UInt64) {
        // The first record of an update is the one its answer depends on (a process logs
        // each update once; a retry is answered from the duplicate table).
        if case .update(let update) = record {
            let key = ClientSequence(clientID: update.clientID, seq: update.seq)
            if updateLSNs[key] == nil { updateLSNs[key] = lsn }
            noteWrites(update.change, lsn: lsn)
        }
        // The records of one step (and of every step until the next round) make one write.
        if case .records(var last) = queue.last {
            queue.removeLast()
            last.append((lsn, record))
            queue.append(.records(last))
        } else {
            enqueue(.records([(lsn, record)]))
        }
    }

    private func noteWrites(_ change: StoreChange, lsn: UInt64) {
        switch change {
        case .none: break
        case .put(let key, _), .setDeadline(let key, _, _), .delete(let key): keyLSNs[key] = lsn
        case .deleteAll: everyKeyLSN = lsn
        case .several(let changes): for change in changes { noteWrites(change, lsn: lsn) }
        }
    }

    /// The last log record a Get of `key` read now reveals: the one that wrote the key.
    func revealedLSN(ofGet key: Bytes) -> UInt64 {
        max(everyKeyLSN, keyLSNs[key] ?? 0)
    }

    func snapshot(_ state: SnapshotState, replacing: Bool) {
        if replacing { everyKeyLSN = state.lsn }
        if !replacing {
            guard !compacting else { return }
            compacting = true
        }
        enqueue(replacing ? .replace(state) : .compact(state))
    }

    var wantsSnapshot: Bool {
        !compacting && simulation.now >= nextCompactionAt
            && engine.logBytesSinceSnapshot >= max(settings.compactionBytes, 2 * engine.snapshotBytes)
    }

    // MARK: - Rounds

    private func enqueue(_ work: Work) {
        queue.append(work)
        scheduleRound()
    }

    private func scheduleRound() {
        guard !busy, !roundScheduled, !queue.isEmpty else { return }
        roundScheduled = true
        _ = simulation.scheduleTimer(at: simulation.now, server: server.node - 1, owner: { [self] in isCurrent }) {
            [self] in
            roundScheduled = false
            round()
        }
    }

    /// Takes the records queued, as one write, or else the next other work.
    private func round() {
        guard !busy, !queue.isEmpty else { return }
        busy = true
        var entries: [LogEntry] = []
        var taken: [Work] = []
        while case .records(let records) = queue.first {
            taken.append(queue.removeFirst())
            for (lsn, record) in records { entries.append(LogEntry(lsn: lsn, record: .record(record))) }
        }
        if entries.isEmpty { taken.append(queue.first!) }
        do {
            if !entries.isEmpty {
                try engine.append(entries)
                server.ledger.written(entries)
                if engine.policy == .always {
                    finish(after: settings.syncDelay(&simulation.random), syncing: true)
                } else {
                    finish(after: settings.writeDelay(&simulation.random), syncing: false)
                }
                return
            }
            switch queue.removeFirst() {
            case .records:
                preconditionFailure("taken above")
            case .compact(let state):
                let generation: UInt64
                do {
                    generation = try engine.beginSnapshot(lsn: state.lsn)
                } catch is DiskFull {
                    server.ledger.markSynced(upTo: engine.lastSynced)
                    abandonCompaction()
                    return finish(after: settings.syncDelay(&simulation.random), syncing: false)
                }
                server.ledger.markSynced(upTo: engine.lastSynced)
                writeSnapshot(state, generation: generation)
                finish(after: settings.syncDelay(&simulation.random), syncing: false)
            case .install(let generation, let lsn, let bytes):
                do {
                    try engine.installSnapshot(generation: generation, lsn: lsn, bytes: bytes)
                } catch is DiskFull {
                    abandonCompaction()
                    return finish(after: settings.syncDelay(&simulation.random), syncing: false)
                }
                compacting = false
                simulation.statistics.snapshotsInstalled += 1
                finish(after: settings.syncDelay(&simulation.random), syncing: false)
            case .replace(let state):
                server.ledger.replacing(with: state)
                do {
                    try engine.replace(with: state)
                } catch is DiskFull {
                    server.ledger.replacementUndone()
                    throw DiskFull("a transfer's snapshot found the disk full")
                }
                server.ledger.replaced(by: state)
                simulation.statistics.transfersWritten += 1
                finish(after: settings.syncDelay(&simulation.random), syncing: false)
            case .sync:
                finish(after: settings.syncDelay(&simulation.random), syncing: true)
            }
        } catch is DiskFull {
            waitForSpace(putBack: taken)
        } catch {
            failed(error)
        }
    }

    /// The round's work found the disk full, undone by the engine: it goes back to the
    /// head of the queue, and the next round comes a second later.
    private func waitForSpace(putBack work: [Work]) {
        simulation.statistics.count(.waitedForSpace)
        queue.insert(contentsOf: work, at: 0)
        if !reportedFull {
            reportedFull = true
            simulation.stepping(server) { diskFullChanged?(true) }
        }
        _ = simulation.scheduleTimer(
            at: simulation.now + 1_000_000, server: server.node - 1, owner: { [self] in isCurrent }
        ) { [self] in
            busy = false
            round()
        }
    }

    /// A compaction found the disk full: the logs hold everything; the next may start a
    /// minute later.
    private func abandonCompaction() {
        simulation.statistics.count(.compactionAbandoned)
        compacting = false
        nextCompactionAt = simulation.now + 60_000_000
    }

    /// Ends the round `delay` later: syncs the log if asked (the sync takes that long,
    /// and the write is durable only at its end), reports, and starts the next round.
    private func finish(after delay: UInt64, syncing: Bool) {
        _ = simulation.scheduleTimer(
            at: simulation.now + delay, server: server.node - 1, owner: { [self] in isCurrent }
        ) { [self] in
            if syncing {
                do {
                    try engine.sync()
                } catch {
                    return failed(error)
                }
                server.ledger.markSynced(upTo: engine.lastSynced)
            }
            busy = false
            let reached = durableLSN
            simulation.stepping(server) { persisted?(reached) }
            if reportedFull {
                reportedFull = false
                simulation.stepping(server) { diskFullChanged?(false) }
            }
            scheduleRound()
        }
    }

    /// A compaction's snapshot, written and synced a while later as on another thread,
    /// then installed by a round of its own.
    private func writeSnapshot(_ state: SnapshotState, generation: UInt64) {
        let start = engine.currentStart
        let delay = settings.syncDelay(&simulation.random) * 2
        _ = simulation.scheduleTimer(
            at: simulation.now + delay, server: server.node - 1, owner: { [self] in isCurrent }
        ) { [self] in
            do {
                let bytes = try StorageEngine<SimulatedDisk>.writeSnapshot(
                    state, start: start, generation: generation, to: engine.fileSystem)
                enqueue(.install(generation: generation, lsn: state.lsn, bytes: bytes))
            } catch is DiskFull {
                abandonCompaction()
            } catch {
                failed(error)
            }
        }
    }

    /// The engine threw: the process ends, as kv-server's does, and recovers from disk at
    /// its next start. Or the machine crashed in the middle of the engine's work.
    private func failed(_ error: any Error) {
        if error is SimulatedDisk.MachineCrash {
            simulation.statistics.count(.crashDuringDiskOperation)
            simulation.stop(server, why: "its machine crashes in the middle of a disk operation", crash: .machine)
            return
        }
        // As DiskLog does before the process ends: the runs whose unsynced writes the
        // kernel may have dropped are marked. A crash of the machine meanwhile reboots it,
        // which voids their claims all the same, so the ledger notes them either way.
        server.ledger.markFailed(engine.runsAtRisk)
        do {
            try engine.recordFailure()
        } catch is SimulatedDisk.MachineCrash {
            return failed(SimulatedDisk.MachineCrash())
        } catch {}
        simulation.statistics.count(.storageFailure)
        simulation.stop(server, why: "its data directory failed (\(error))", crash: .process)
    }
}
