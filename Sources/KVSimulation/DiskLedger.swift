import KVProtocol
import KVStorage
import ServerCore

/// The simulator's own account of what a server's disk holds, kept apart from the
/// engine and recovery it checks: the state at the last synced LSN, and the records
/// written after it. It outlives the server's processes, as the disk does.
///
/// A restart must recover the state at some LSN between the last synced one and the last
/// written one (a crash keeps a prefix of what was not synced, or nothing of it), and
/// exactly the state the records up to that LSN make (`DurabilityChecks`).
struct DiskLedger {
    /// What the records up to `lsn` make: the store, the duplicate table, the claim in
    /// force and the last process start, as `Recovery` rebuilds them; and whether the
    /// claim still proves anything: it does unless a process that wrote since it (its writer
    /// included) ran under `everysec` or `no` and a reboot followed.
    struct State {
        var lsn: UInt64 = 0
        var store = KeyValueStore()
        var duplicates: DuplicateTable
        var claim: StateClaim?
        var lastStart: ServerStart?
        /// The start of the process that wrote the claim.
        var claimStart: ServerStart?
        var rebootedSinceClaim = false
        /// The runs (incarnations) the disk's failure marker names: each ended on a failed
        /// disk operation, and counts as followed by a reboot. Of the disk, not of an LSN.
        var failedRuns: Set<UInt64> = []

        /// The claim a process starting on boot `bootID` may send.
        func provenClaim(bootID: [UInt8]) -> StateClaim? {
            guard claimStart != nil, let lastStart, !rebootedSinceClaim else { return nil }
            return lastStart.policy == .always
                || (lastStart.bootID == bootID && !failedRuns.contains(lastStart.incarnation)) ? claim : nil
        }

        mutating func apply(_ entry: LogEntry) {
            switch entry.record {
            case .record(.update(let update)):
                store.apply(update.change, revision: update.revision)
                if update.clientID != ForwardedUpdate.noClient {
                    duplicates.record(clientID: update.clientID, seq: update.seq, reply: update.reply)
                }
            case .record(.claim(let next)):
                claim = next
                claimStart = lastStart
                rebootedSinceClaim = false
            case .start(let start):
                // A process that wrote since the claim under everysec or no, then a reboot.
                if claimStart != nil, let lastStart, lastStart.policy != .always,
                    lastStart.bootID != start.bootID || failedRuns.contains(lastStart.incarnation)
                {
                    rebootedSinceClaim = true
                }
                lastStart = start
            }
            lsn = entry.lsn
        }
    }

    let duplicateCapacity: Int
    private(set) var synced: State
    /// Written after `synced.lsn`, not yet synced, in order.
    private(set) var unsynced: [LogEntry] = []
    /// A completed transfer being written when the machine crashed: the disk holds either
    /// what it held before, or this state.
    private(set) var replacement: SnapshotState?

    init(duplicateCapacity: Int) {
        self.duplicateCapacity = duplicateCapacity
        synced = State(duplicates: DuplicateTable(capacity: duplicateCapacity))
    }

    var lastWritten: UInt64 { unsynced.last?.lsn ?? synced.lsn }

    mutating func written(_ entries: [LogEntry]) {
        unsynced += entries
    }

    /// The disk now holds every record up to `lsn` durably.
    mutating func markSynced(upTo lsn: UInt64) {
        var applied = 0
        while applied < unsynced.count, unsynced[applied].lsn <= lsn {
            synced.apply(unsynced[applied])
            applied += 1
        }
        unsynced.removeFirst(applied)
    }

    /// The process ends on a failed disk operation, and marks `runs` on the disk.
    mutating func markFailed(_ runs: [UInt64]) {
        synced.failedRuns.formUnion(runs)
    }

    /// A completed transfer is about to replace everything (`replaced` once it has).
    mutating func replacing(with state: SnapshotState) {
        replacement = state
    }

    /// A transfer's replacement found the disk full and was undone: the state before it
    /// stays, whole.
    mutating func replacementUndone() {
        replacement = nil
    }

    /// A completed transfer replaced everything, durably.
    mutating func replaced(by state: SnapshotState) {
        synced = self.state(replacedBy: state)
        unsynced.removeAll()
        replacement = nil
    }

    /// What a transfer's snapshot holds, written by the process that opened the disk last.
    func state(replacedBy state: SnapshotState) -> State {
        let start = synced.lastStart
        var replaced = State(
            lsn: state.lsn, duplicates: DuplicateTable(capacity: duplicateCapacity), claim: state.claim)
        replaced.store = state.store
        for entry in state.duplicates {
            replaced.duplicates.record(clientID: entry.clientID, seq: entry.seq, reply: entry.reply)
        }
        replaced.lastStart = start
        replaced.failedRuns = synced.failedRuns
        // The snapshot carries the claim with the start of the process that wrote it.
        replaced.claimStart = state.claim == nil ? nil : start
        return replaced
    }

    /// The state the records up to `lsn` make; `lsn` between the last synced and the last
    /// written.
    func state(at lsn: UInt64) -> State {
        var state = synced
        for entry in unsynced where entry.lsn <= lsn { state.apply(entry) }
        return state
    }

    /// A process opened the disk: it recovered `state` and wrote its start record after
    /// it, synced.
    mutating func opened(_ state: State, start: ServerStart) {
        synced = state
        synced.apply(LogEntry(lsn: state.lsn + 1, record: .start(start)))
        unsynced.removeAll()
        replacement = nil
    }

    /// A process that was opening the disk wrote its start record at `lsn`, right after
    /// what it recovered (nothing, if it set damaged files aside), and its machine crashed
    /// before the record was synced. What it cut off or set aside before is gone.
    mutating func startInterrupted(_ start: ServerStart, lsn: UInt64, afterDamage: Bool) {
        if afterDamage {
            synced = empty()
        } else if let replacement, replacement.lsn == lsn - 1 {
            synced = state(replacedBy: replacement)
        }
        self.replacement = nil
        unsynced.removeAll { $0.lsn >= lsn }
        unsynced.append(LogEntry(lsn: lsn, record: .start(start)))
    }

    /// A fresh state, for a disk whose files recovery set aside as damaged.
    func empty() -> State {
        State(duplicates: DuplicateTable(capacity: duplicateCapacity))
    }
}
