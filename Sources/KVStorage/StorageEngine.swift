import KVProtocol
import ServerCore

/// Room a kv-server prepares ahead of its log's records under `always` (docs/STORAGE.md,
/// "Prepared space").
public let defaultPreparedSpace = 1 << 20

/// Writes a server's data directory (docs/STORAGE.md, "Writing"): opens it (recovery, a
/// torn tail cut after a copy is kept, damaged files set aside), appends each group
/// commit as one write, syncs, rolls the log and installs snapshots, and replaces the
/// manifest atomically. Synchronous and single-threaded: the daemon runs it on an I/O
/// thread of its own, the simulator inline; only `writeSnapshot` may run on another
/// thread at the same time.
public final class StorageEngine<FileSystem: StorageFileSystem> {
    public let fileSystem: FileSystem
    public let policy: FsyncPolicy
    private var manifest = Manifest(generation: 0, snapshot: nil, logs: [])
    private var log: FileSystem.Handle?
    private var nextGeneration: UInt64 = 1
    /// This process start, written at `open` and into every snapshot after it.
    private var start: ServerStart?
    /// While `open` runs: the start of the run before, whose unsynced writes a failed sync
    /// now could still drop (once this process's start record is synced, they are on disk).
    private var previousStart: ServerStart?
    /// Set once `open` has synced this process's start record.
    private var opened = false
    /// The LSN of the last record written to the log (or covered by a snapshot).
    public private(set) var lastWritten: UInt64 = 0
    /// The LSN up to which the log is synced.
    public private(set) var lastSynced: UInt64 = 0
    /// Bytes of each log the manifest names, by generation.
    private var logSizes: [UInt64: Int] = [:]
    /// Bytes of the snapshot in force.
    public private(set) var snapshotBytes = 0
    /// Bytes appended to logs since the process started (records and their framing).
    public private(set) var bytesAppended = 0
    /// Under `always`: how far ahead of the records the log's file is extended with zeros
    /// (docs/STORAGE.md, "Prepared space"); 0 for none.
    public let preparedSpace: Int
    /// Where the written log's file ends: its records, then the zeros prepared after them.
    private var logFileEnd = 0
    /// After a preparation refused for want of space, none is tried before the log reaches
    /// this size.
    private var prepareAgainAt = 0

    public init(fileSystem: FileSystem, policy: FsyncPolicy, preparedSpace: Int = 0) {
        self.fileSystem = fileSystem
        self.policy = policy
        self.preparedSpace = policy == .always ? preparedSpace : 0
    }

    /// Bytes of the logs after the snapshot in force: what a restart replays.
    public var logBytesSinceSnapshot: Int { logSizes.values.reduce(0, +) }

    // MARK: - Opening

    /// What `open` found and did.
    public struct Opening: Sendable {
        /// What the directory held, ready for `ServerCore` (its claim judged against `start`).
        public var recovered: RecoveredData
        /// A sentence for the log: fresh, recovered (with counts), torn tail cut, damage set aside.
        public var report: String
        /// Damage that made the server start empty; nil otherwise.
        public var damage: StorageDamage?
        /// Where a torn last record was cut, after a copy was kept.
        public var tornTail: String?
    }

    /// Recovers the directory and starts writing after what it holds: the record of this
    /// process start goes to the log and is synced before anything else, so that from then
    /// on every record of earlier runs is on disk too.
    ///
    /// - Parameters:
    ///   - start: this process start (its incarnation, the machine's boot id, the policy).
    ///   - setAsideName: the subdirectory damaged files are moved to, if any are.
    ///
    /// If it fails after recovery, having begun to sync what the run before left unsynced,
    /// it records the failure (`recordFailure`, best effort) before it throws.
    public func open(start: ServerStart, duplicateCapacity: Int, setAsideName: String) throws -> Opening {
        do {
            return try openDirectory(start: start, duplicateCapacity: duplicateCapacity, setAsideName: setAsideName)
        } catch {
            if !runsAtRisk.isEmpty { try? recordFailure() }
            throw error
        }
    }

    private func openDirectory(start: ServerStart, duplicateCapacity: Int, setAsideName: String) throws -> Opening {
        self.start = start
        var damage: StorageDamage?
        var tornTail: String?
        var report: String
        var recovered = RecoveredData(
            store: KeyValueStore(), duplicates: DuplicateTable(capacity: duplicateCapacity), lastLSN: 0, claim: nil)
        switch try Recovery.recover(from: fileSystem, duplicateCapacity: duplicateCapacity, bootID: start.bootID) {
        case .fresh:
            report = "new data directory"
            try startFresh()
        case .damaged(let found):
            damage = found
            try setAside(into: setAsideName)
            report =
                "damaged (\(found)); every data file was moved to \(setAsideName)/ and the server starts empty, "
                + "claiming nothing"
            try startFresh()
        case .recovered(let state):
            // The MANIFEST read may come from a rename whose directory fsync never ran (the
            // last process died in between): make it durable before acting on it, so that no
            // file it dropped is removed, nor anything appended, on a manifest a power cut
            // could still take back.
            try fileSystem.syncDirectory()
            lastWritten = state.lastLSN
            lastSynced = state.lastLSN
            previousStart = state.lastStart
            if !state.failedRuns.isEmpty || state.failureMarkerUnreadable {
                // Its writer may have died before syncing it: the mark must outlive a reboot
                // that follows this process, which may claim nothing because of it.
                let marker = try fileSystem.openForAppend(DataFileName.failureMarker)
                defer { fileSystem.close(marker) }
                try fileSystem.sync(marker)
            }
            manifest = state.manifest
            let generations = state.manifest.logs.map(\.generation) + [state.manifest.snapshot?.generation ?? 0]
            nextGeneration = generations.max()! + 1
            var zerosCut: String?
            if let prepared = state.preparedSpace {
                // Zeros only: the next write prepares room again. Said in the report, as
                // they may also be writes that never reached the disk (under `everysec` and
                // `no`, acknowledged ones, which the claim's rules account for).
                let bytes = (fileSystem.size(of: prepared.file) ?? prepared.offset) - prepared.offset
                try fileSystem.truncate(prepared.file, to: prepared.offset)
                zerosCut = "\(bytes) bytes of zeros after the last record of \(prepared.file) cut"
            }
            if let torn = state.tornTail {
                let copy = "\(torn.file).torn-\(state.lastLSN)"
                try fileSystem.writeFile(copy, [try fileSystem.contents(of: torn.file) ?? []])
                // The copy's name is durable before the original is cut.
                try fileSystem.syncDirectory()
                try fileSystem.truncate(torn.file, to: torn.offset)
                tornTail =
                    "\(torn.file) at byte \(torn.offset) (the whole file is kept as \(copy))"
                    + (state.lostUnsyncedTail.map {
                        "; written under fsync \(state.lastStart!.policy) "
                            + "\(Self.lossCause(state.lastStart!, start, state)), its unsynced tail was lost (\($0))"
                    } ?? "")
            }
            // Leftovers of an interrupted snapshot or log switch: the manifest never named
            // them. And temporaries of a snapshot or manifest being written then. Removed
            // only now that the manifest read is durable (synced above).
            let leftovers = state.unreferencedFiles + state.temporaryFiles
            for name in leftovers { try fileSystem.remove(name) }
            if !leftovers.isEmpty { try fileSystem.syncDirectory() }
            for reference in state.manifest.logs {
                logSizes[reference.generation] = fileSystem.size(of: reference.fileName) ?? 0
            }
            logFileEnd = state.manifest.logs.last.map { logSizes[$0.generation]! } ?? 0
            snapshotBytes = state.manifest.snapshot.flatMap { fileSystem.size(of: $0.fileName) } ?? 0
            if let last = state.manifest.logs.last {
                log = try fileSystem.openForAppend(last.fileName)
                // The last process may have died between its last write and that write's
                // fdatasync (the page cache keeps the write, and recovery read it): synced
                // now, before this process writes, so that under `always` a write still
                // follows only synced ones, which is how recovery tells a torn write from
                // damage (docs/STORAGE.md). Else a crash of the machine before the start
                // record's sync could keep the start record and lose a sector of that write.
                try fileSystem.sync(log!)
            } else {
                try startLog(firstLSN: state.lastLSN + 1)
                try writeManifest(snapshot: manifest.snapshot, logs: manifest.logs)
            }
            let valid = state.claimHolds(bootID: start.bootID)
            recovered = RecoveredData(
                store: state.store, duplicates: state.duplicates,
                lastLSN: state.lastLSN, claim: valid ? state.claim : nil)
            var claimText = "no claim"
            if let claim = state.claim {
                claimText =
                    valid
                    ? "claiming \(claim)"
                    : "not claiming \(claim): written under fsync \(state.claimStart.map { "\($0.policy)" } ?? "?") "
                        + "\(state.claimStart.map { Self.lossCause($0, start, state) } ?? "before a reboot"), its unsynced "
                        + "tail may be gone"
                        + (state.failedRuns.isEmpty && !state.failureMarkerUnreadable
                            ? ""
                            : " (\(DataFileName.failureMarker) names runs that ended on a failed write or sync: judged "
                                + "as followed by a reboot)")
            }
            report =
                "recovered \(state.store.count) keys up to LSN \(state.lastLSN) (\(state.snapshotKeys) from the "
                + "snapshot, \(state.logRecordsReplayed) log records), \(claimText)"
                + (tornTail.map { "; a torn last record was cut off in \($0)" } ?? "")
                + (zerosCut.map { "; \($0)" } ?? "")
        }
        // The start record, synced: from here on everything earlier is on disk too.
        try append([LogEntry(lsn: recovered.lastLSN + 1, record: .start(start))])
        try sync()
        previousStart = nil
        opened = true
        recovered.lastLSN += 1
        return Opening(recovered: recovered, report: report, damage: damage, tornTail: tornTail)
    }

    /// Why the unsynced writes of the run that began with `earlier` may be gone, seen from
    /// `now`: the run ended on a failed write or sync, the machine rebooted, or a boot id is
    /// unknown and a reboot cannot be ruled out.
    private static func lossCause(_ earlier: ServerStart, _ now: ServerStart, _ state: RecoveredState) -> String {
        if state.endedOnFailure(earlier), earlier.ranInBoot(now.bootID) {
            return "in a run that ended on a failed write or sync"
        }
        return earlier.bootID == ServerStart.unknownBootID || now.bootID == ServerStart.unknownBootID
            ? "with the machine's boot id unknown (/proc/sys/kernel/random/boot_id unreadable), so a reboot since "
                + "cannot be ruled out"
            : "before a reboot"
    }

    private func startFresh() throws {
        // Nothing here holds data: a temporary never named, a failure mark of runs whose
        // data is gone or set aside.
        for name in try fileSystem.fileNames()
        where DataFileName.isTemporary(name) || name == DataFileName.failureMarker {
            try fileSystem.remove(name)
        }
        manifest = Manifest(generation: 0, snapshot: nil, logs: [])
        logSizes = [:]
        snapshotBytes = 0
        try startLog(firstLSN: 1)
        try writeManifest(snapshot: nil, logs: manifest.logs)
    }

    /// Moves every file of the format into a subdirectory, so that nothing that may hold
    /// an acknowledged write is overwritten or deleted.
    private func setAside(into subdirectory: String) throws {
        try fileSystem.makeSubdirectory(subdirectory)
        // The subdirectory's entry is durable before files move into it: else a crash could
        // keep the moves and lose the directory that holds them.
        try fileSystem.syncDirectory()
        for name in try fileSystem.fileNames()
        where DataFileName(name) != nil || DataFileName.isTemporary(name) || name == DataFileName.failureMarker {
            try fileSystem.rename(name, to: "\(subdirectory)/\(name)")
        }
        // Both ends of every move: the names in the subdirectory, and their removal here.
        try fileSystem.syncSubdirectory(subdirectory)
        try fileSystem.syncDirectory()
    }

    // MARK: - Failure

    /// The runs (their incarnations) whose unsynced writes a failed write or sync now may
    /// have dropped: while `open` runs, the one before (its writes are on disk only once
    /// this process's start record is synced), then this one.
    public var runsAtRisk: [UInt64] {
        if let previousStart { return [previousStart.incarnation] }
        return opened ? [start!.incarnation] : []
    }

    /// Records that this process ends on a failed write or sync (or any failed operation of
    /// the directory), before it exits: appends `runsAtRisk` to the failure marker and syncs
    /// it. After a failed write-back the kernel may drop the dirty pages it could not
    /// write, so a restart on the same boot may read a log missing updates acknowledged
    /// under `everysec` or `no`; recovery then judges those runs as if a reboot had
    /// followed them, and their claims are void (docs/STORAGE.md, "Claims"). Best effort:
    /// the caller ends the process whatever this does. The mark matters only for a restart
    /// on the same boot, which reads it from the page cache even if its sync fails.
    public func recordFailure() throws {
        guard !runsAtRisk.isEmpty else { return }
        let name = DataFileName.failureMarker
        let exists = try fileSystem.contents(of: name) != nil
        let marker = exists ? try fileSystem.openForAppend(name) : try fileSystem.create(name)
        defer { fileSystem.close(marker) }
        // A line of its own even after an append a crash cut short.
        try fileSystem.write(marker, Array(runsAtRisk.map { "\n\($0)\n" }.joined().utf8))
        try fileSystem.sync(marker)
        if !exists { try fileSystem.syncDirectory() }
    }

    // MARK: - Appending

    /// Appends the records of one group commit as one write (not synced), as
    /// `append(_: EncodedRecords)` does.
    public func append(_ entries: [LogEntry]) throws {
        guard !entries.isEmpty else { return }
        try append(LogEncoder.encode(entries))
    }

    /// Appends `records` as one write (not synced; they are sealed as one:
    /// `EncodedRecords.seal`).
    ///
    /// Throws `DiskFull` with the log cut back to its size before the write, and
    /// `lastWritten` unchanged: the same records may be appended again once there is
    /// space. If the cut fails, that error is thrown instead (the caller ends the process).
    public func append(_ records: EncodedRecords) throws {
        guard !records.isEmpty, let log, let current = manifest.logs.last else { return }
        precondition(records.firstLSN == lastWritten + 1, "LSN \(records.firstLSN) appended after \(lastWritten)")
        let end = logSizes[current.generation, default: 0]
        try prepare(log, current, forWriting: records.byteCount, at: end)
        do {
            try records.seal { try fileSystem.write(log, $0, at: end) }
        } catch let full as DiskFull {
            // Part of the write may have gone through before the space ran out: no partial
            // record may stay, as the next write would follow it. Cutting needs no space.
            try fileSystem.truncate(current.fileName, to: end)
            logFileEnd = end
            throw full
        }
        lastWritten = records.lastLSN
        logSizes[current.generation, default: 0] += records.byteCount
        logFileEnd = max(logFileEnd, end + records.byteCount)
        bytesAppended += records.byteCount
    }

    /// Extends the log's file with zeros when a write of `count` bytes at `end` would leave
    /// less than half of `preparedSpace` after it: the write's own sync then carries the
    /// new size, once per `preparedSpace` bytes instead of once per write. Refused for want
    /// of space, the file is cut back to its size before and preparing waits until the log
    /// has grown by `preparedSpace`; the records still go.
    private func prepare(
        _ log: FileSystem.Handle, _ current: Manifest.LogReference, forWriting count: Int, at end: Int
    ) throws {
        guard preparedSpace > 0, logFileEnd < end + count + preparedSpace / 2, end >= prepareAgainAt else { return }
        let size = max(logFileEnd, end)
        // Not where the records go next: they fill that at once (a gap reads as zeros).
        let from = max(size, end + count)
        do {
            try fileSystem.prepare(log, at: from, count: end + count + preparedSpace - from)
            logFileEnd = end + count + preparedSpace
        } catch is DiskFull {
            // Back to the size before: zeros already there still take records without
            // asking the disk for space.
            try fileSystem.truncate(current.fileName, to: size)
            logFileEnd = size
            prepareAgainAt = end + preparedSpace
        }
    }

    /// Cuts the zeros prepared after the written log's records, synced: before the log
    /// stops being the last, as only the last may end in zeros (docs/STORAGE.md).
    private func cutPreparedSpace() throws {
        guard let current = manifest.logs.last else { return }
        let end = logSizes[current.generation, default: 0]
        guard logFileEnd > end else { return }
        try fileSystem.truncate(current.fileName, to: end)
        logFileEnd = end
    }

    /// fdatasync of the log: everything written is on disk.
    public func sync() throws {
        guard let log, lastSynced < lastWritten else { return }
        try fileSystem.sync(log)
        lastSynced = lastWritten
    }

    /// A sync split in two, so that appends may go on while it runs (`everysec`): the log
    /// to sync and the LSN it will cover, or nil if everything written is synced. Sync the
    /// handle through `fileSystem`, then call `synced(upTo:)`; no log switch (a snapshot)
    /// may come in between, as the handle would then name a log no longer written.
    public func syncTarget() -> (log: FileSystem.Handle, upTo: UInt64)? {
        guard let log, lastSynced < lastWritten else { return nil }
        return (log, lastWritten)
    }

    public func synced(upTo lsn: UInt64) {
        lastSynced = max(lastSynced, lsn)
    }

    // MARK: - Snapshots

    /// A compaction's first step (in order with the appends): the log up to `lsn` is
    /// synced, and a new log begins after it, named by the manifest before any record goes
    /// to it. Returns the generation the snapshot is to be written under.
    ///
    /// Throws `DiskFull` with nothing changed: the new log is removed, and the current one
    /// stays the log written.
    public func beginSnapshot(lsn: UInt64) throws -> UInt64 {
        precondition(lsn == lastWritten, "a snapshot at \(lsn) begun with records up to \(lastWritten) written")
        try sync()
        try cutPreparedSpace()
        let next = try createLog(firstLSN: lsn + 1)
        do {
            try writeManifest(snapshot: manifest.snapshot, logs: manifest.logs + [next.reference])
        } catch let full as DiskFull {
            try drop(next)
            throw full
        }
        use(next)
        return next.reference.generation
    }

    /// A compaction's second step (may run on another thread, while records go on being
    /// appended): writes and syncs the snapshot file. The manifest does not name it yet,
    /// so a crash meanwhile leaves an orphan, deleted at the next start. Returns its size.
    ///
    /// Throws `DiskFull` with its temporary file removed.
    public static func writeSnapshot(
        _ state: SnapshotState, start: ServerStart?, generation: UInt64, to fileSystem: FileSystem
    ) throws -> Int {
        let temporary = DataFileName.snapshotTemporary(generation: generation)
        do {
            return try writeSnapshotFile(state, start: start, generation: generation, to: fileSystem)
        } catch let full as DiskFull {
            try fileSystem.remove(temporary)
            throw full
        }
    }

    private static func writeSnapshotFile(
        _ state: SnapshotState, start: ServerStart?, generation: UInt64, to fileSystem: FileSystem
    ) throws -> Int {
        let name = DataFileName.snapshot(generation: generation).fileName
        let temporary = DataFileName.snapshotTemporary(generation: generation)
        if try fileSystem.contents(of: temporary) != nil { try fileSystem.remove(temporary) }
        let handle = try fileSystem.create(temporary)
        defer { fileSystem.close(handle) }
        var encoder = SnapshotEncoder(
            generation: generation, lsn: state.lsn, claim: state.claim, start: start, keyCount: state.store.count,
            duplicateCount: state.duplicates.count, revision: state.store.revision)
        var size = 0
        func flush() throws {
            let bytes = encoder.takeBytes()
            size += bytes.count
            try fileSystem.write(handle, bytes)
        }
        try state.store.forEachEntry { key, value in
            encoder.addEntry(key: key, value: value)
            if encoder.bufferedByteCount >= 1 << 20 { try flush() }
        }
        for entry in state.duplicates { encoder.addDuplicate(entry) }
        encoder.finish()
        try flush()
        try fileSystem.sync(handle)
        try fileSystem.rename(temporary, to: name)
        try fileSystem.syncDirectory()
        return size
    }

    /// The start record snapshots written now carry.
    public var currentStart: ServerStart? { start }

    /// A compaction's last step: the manifest names the snapshot, and the files it covers go.
    /// Unless a completed transfer replaced everything while the snapshot was being
    /// written (the log the compaction began is gone): the snapshot is then of a state
    /// older than the manifest's, and is dropped.
    ///
    /// Throws `DiskFull` with the snapshot removed and the manifest as it was: the log
    /// still holds everything, and a later compaction may try again.
    public func installSnapshot(generation: UInt64, lsn: UInt64, bytes: Int) throws {
        let snapshotName = DataFileName.snapshot(generation: generation).fileName
        guard manifest.logs.contains(where: { $0.generation == generation }) else {
            try fileSystem.remove(snapshotName)
            return
        }
        let kept = manifest.logs.filter { $0.generation >= generation }
        let dropped = manifest.logs.filter { $0.generation < generation }.map(\.fileName)
        let oldSnapshot = manifest.snapshot.map { [$0.fileName] } ?? []
        do {
            try writeManifest(snapshot: Manifest.SnapshotReference(generation: generation, lsn: lsn), logs: kept)
        } catch let full as DiskFull {
            try fileSystem.remove(snapshotName)
            throw full
        }
        for name in dropped + oldSnapshot { try fileSystem.remove(name) }
        try fileSystem.syncDirectory()
        for generation in logSizes.keys where !kept.contains(where: { $0.generation == generation }) {
            logSizes[generation] = nil
        }
        snapshotBytes = bytes
    }

    /// A completed transfer: `state` replaces everything, durably, before this returns.
    ///
    /// Throws `DiskFull` with nothing changed: the files it began are removed, and the
    /// manifest still names the state before, whole.
    public func replace(with state: SnapshotState) throws {
        precondition(state.lsn > lastWritten, "a replacing snapshot at \(state.lsn) after records up to \(lastWritten)")
        try sync()
        let generation = nextGeneration
        let bytes = try Self.writeSnapshot(state, start: start, generation: generation, to: fileSystem)
        let snapshotName = DataFileName.snapshot(generation: generation).fileName
        let oldFiles = manifest.logs.map(\.fileName) + (manifest.snapshot.map { [$0.fileName] } ?? [])
        let next: NewLog
        do {
            next = try createLog(firstLSN: state.lsn + 1)
        } catch let full as DiskFull {
            try fileSystem.remove(snapshotName)
            throw full
        }
        do {
            try writeManifest(
                snapshot: Manifest.SnapshotReference(generation: generation, lsn: state.lsn), logs: [next.reference])
        } catch let full as DiskFull {
            try drop(next)
            try fileSystem.remove(snapshotName)
            throw full
        }
        use(next)
        for name in oldFiles { try fileSystem.remove(name) }
        try fileSystem.syncDirectory()
        logSizes = logSizes.filter { $0.key >= generation }
        lastWritten = state.lsn
        lastSynced = state.lsn
        snapshotBytes = bytes
    }

    // MARK: - Files

    /// Creates the log of the next generation, whose first record will be `firstLSN`, and
    /// makes it current (the manifest still has to name it). Returns its generation.
    @discardableResult
    private func startLog(firstLSN: UInt64) throws -> UInt64 {
        let next = try createLog(firstLSN: firstLSN)
        use(next)
        manifest.logs.append(next.reference)
        return next.reference.generation
    }

    /// A log created, its header written and synced, that the manifest does not name yet.
    private struct NewLog {
        var reference: Manifest.LogReference
        var handle: FileSystem.Handle
        var headerBytes: Int
    }

    /// Creates the log of the next generation. Throws `DiskFull` with the file removed.
    private func createLog(firstLSN: UInt64) throws -> NewLog {
        let generation = nextGeneration
        nextGeneration += 1
        let reference = Manifest.LogReference(generation: generation, firstLSN: firstLSN)
        if try fileSystem.contents(of: reference.fileName) != nil { try fileSystem.remove(reference.fileName) }
        let handle = try fileSystem.create(reference.fileName)
        let header = LogEncoder.encodeLogHeader(generation: generation, firstLSN: firstLSN)
        do {
            try fileSystem.write(handle, header)
        } catch let full as DiskFull {
            try drop(NewLog(reference: reference, handle: handle, headerBytes: 0))
            throw full
        }
        try fileSystem.sync(handle)
        return NewLog(reference: reference, handle: handle, headerBytes: header.count)
    }

    /// Closes and removes a log the manifest never named.
    private func drop(_ new: NewLog) throws {
        fileSystem.close(new.handle)
        try fileSystem.remove(new.reference.fileName)
    }

    /// Makes `new` the log written.
    private func use(_ new: NewLog) {
        if let log { fileSystem.close(log) }
        log = new.handle
        logSizes[new.reference.generation] = new.headerBytes
        logFileEnd = new.headerBytes
        prepareAgainAt = 0
    }

    /// Throws `DiskFull` with the temporary it began removed, and the manifest unchanged.
    private func writeManifest(snapshot: Manifest.SnapshotReference?, logs: [Manifest.LogReference]) throws {
        let next = Manifest(generation: manifest.generation + 1, snapshot: snapshot, logs: logs)
        do {
            try fileSystem.replaceAtomically(DataFileName.manifest.fileName, with: next.encode())
        } catch let full as DiskFull {
            try fileSystem.remove(DataFileName.manifestTemporary)
            throw full
        }
        manifest = next
    }
}
