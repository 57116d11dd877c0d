import KVProtocol
import ServerCore

/// A data directory's state after recovery: what the server starts from, and where its
/// writer goes on.
public struct RecoveredState: Sendable {
    public var store: KeyValueStore
    /// The snapshot's duplicate-table entries, then every replayed update's, in order.
    public var duplicates: DuplicateTable
    /// The lsn of the last record recovered (the snapshot's, if no log record follows it).
    public var lastLSN: UInt64
    /// The last claim recorded, or the snapshot's.
    public var claim: StateClaim?
    /// The last server start recorded, or the snapshot's.
    public var lastStart: ServerStart?
    /// The start in force when the claim was recorded: the process that wrote it (or the
    /// snapshot that carries it), whose fsync policy says how much of what follows it a
    /// reboot may take.
    public var claimStart: ServerStart?
    /// Whether a process that wrote after the claim (its writer included) ran under
    /// `everysec` or `no` and a later start ran on another boot: that process's unsynced
    /// tail, with updates it acknowledged after the claim, may be gone.
    public var rebootedSinceClaim: Bool
    public var manifest: Manifest
    /// Where the last log must be cut before anything is appended: its last write was cut
    /// short. Only ever in the manifest's last log.
    public var tornTail: LogFilePosition?
    /// Set when the cut at `tornTail` is not a torn write but the unsynced tail of a log
    /// written under `everysec` or `no`, lost in a reboot (what the damage looked like):
    /// the fsync policy never promised it, and the claim is void anyway.
    public var lostUnsyncedTail: String?
    /// Where the last log's valid prefix is followed by zeros only, to its end: the room
    /// prepared ahead of the records, or writes none of whose bytes reached the disk (the
    /// last under `always`, any unsynced ones under `everysec` and `no`). No record is
    /// there to keep: the file is cut there without a copy.
    public var preparedSpace: LogFilePosition?
    /// The last log and the length of its valid prefix (the torn tail's offset, if there
    /// is one), where the writer continues; nil when the manifest names no log.
    public var lastLogEnd: LogFilePosition?
    /// Snapshot and log files in the directory that the manifest does not name: leftovers
    /// of an interrupted snapshot or log switch, safe to delete.
    public var unreferencedFiles: [String]
    /// Temporaries of the format (`DataFileName.isTemporary`): a snapshot or manifest being
    /// written when a process or its machine stopped. Never read; safe to delete.
    public var temporaryFiles: [String]
    /// The runs (by the incarnation of their start) that ended on a failed write or sync,
    /// as `DataFileName.failureMarker` lists them: judged as if a reboot had followed them.
    public var failedRuns: Set<UInt64>
    /// The failure marker holds a line that is not an incarnation (it was damaged): every
    /// run is judged as if a reboot had followed it.
    public var failureMarkerUnreadable: Bool

    /// For the report of a start: the keys the snapshot held, the log records replayed
    /// (those after the snapshot's lsn), and the bytes of every file read.
    public var snapshotKeys: Int
    public var logRecordsReplayed: Int
    public var bytesRead: Int

    /// Whether the claim still proves what it says for a process starting on boot
    /// `bootID`: no process since the claim (its writer included) that ran under
    /// `everysec` or `no` was followed by a reboot (a later start, or this one, on another
    /// boot). Every process that wrote after the claim counts, not the last alone: one
    /// that started after a reboot found the claim void, and its own start record must not
    /// make the claim look sound to the next process; and a run under `no` after an
    /// `always` claim may have acknowledged updates a reboot then took.
    ///
    /// A run that ended on a failed write or sync counts as followed by a reboot: after a
    /// failed write-back the kernel may drop the dirty pages it could not write, which is
    /// what a reboot takes.
    public func claimHolds(bootID: [UInt8]) -> Bool {
        guard claim != nil, claimStart != nil, let lastStart, !rebootedSinceClaim else { return false }
        return lastStart.policy == .always || (lastStart.ranInBoot(bootID) && !endedOnFailure(lastStart))
    }

    /// Whether the run that began with `start` ended on a failed write or sync (the
    /// failure marker names it, or cannot be read).
    public func endedOnFailure(_ start: ServerStart) -> Bool {
        failureMarkerUnreadable || failedRuns.contains(start.incarnation)
    }
}
