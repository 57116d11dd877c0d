import KVProtocol
import ServerCore

/// Rebuilds a data directory's state from its files (docs/STORAGE.md, "Recovery"): the
/// manifest names a snapshot and logs; the snapshot is loaded, the logs' records after
/// its lsn replayed in order, exactly as the server applied them.
public enum Recovery {
    /// Errors the reader throws (the disk could not be read) are thrown; everything found
    /// wrong in what was read is `.damaged`, except one case: damage in the last log when
    /// the process that wrote it ran under `everysec` or `no` and the machine may have
    /// rebooted since (`bootID` differs, or either is unknown: `ServerStart.ranInBoot`; or
    /// the process ended on a failed write or sync, which may drop what a reboot does):
    /// writes there follow each other without a sync, so a reboot can leave any of them
    /// half on disk, and their loss is what the policy allows (docs/STORAGE.md, "Torn
    /// tail or damage"). That tail is cut like a torn one, provided the damage looks like
    /// unwritten bytes and no later process's start record follows it
    /// (`TornTailRule.mayBeLostUnsyncedWrites`).
    public static func recover(
        from reader: some DataDirectoryReader, duplicateCapacity: Int, bootID: [UInt8]? = nil
    ) throws -> RecoveryOutcome {
        let names = try reader.fileNames()
        let manifestName = DataFileName.manifest.fileName
        guard let manifestBytes = try reader.contents(of: manifestName) else {
            return try outcomeWithoutManifest(names, reader)
        }
        let manifest: Manifest
        do {
            manifest = try Manifest.decode(manifestBytes)
        } catch {
            return .damaged(StorageDamage(file: manifestName, offset: error.offset, reason: error.reason))
        }
        var replay = Replay(manifest: manifest, duplicateCapacity: duplicateCapacity, bootID: bootID)
        replay.state.bytesRead = manifestBytes.count
        replay.state.unreferencedFiles = unreferencedFiles(names, manifest)
        replay.state.temporaryFiles = names.filter(DataFileName.isTemporary).sorted()
        if let marker = try reader.contents(of: DataFileName.failureMarker) {
            (replay.state.failedRuns, replay.state.failureMarkerUnreadable) = failedRuns(marker)
        }
        do {
            try replay.loadSnapshot(reader)
            try replay.replayLogs(reader)
        } catch let damage as StorageDamage {
            return .damaged(damage)
        }
        return .recovered(replay.state)
    }

    /// Without a manifest, the directory is new, unless snapshot or log files show that
    /// one existed: starting over would throw away writes that may have been acknowledged.
    /// A `MANIFEST.tmp` alone is a first manifest that was never renamed into place, and a
    /// log no longer than a log header is the first log of a first start whose manifest
    /// never made it (the writer names a log before writing any record to it): neither
    /// holds anything.
    private static func outcomeWithoutManifest(
        _ names: [String], _ reader: some DataDirectoryReader
    ) throws -> RecoveryOutcome {
        var orphans: [String] = []
        for name in names.sorted() {
            switch DataFileName(name) {
            case nil, .manifest?:
                continue
            case .log?:
                if let bytes = try reader.contents(of: name), bytes.count <= logHeaderSize { continue }
                orphans.append(name)
            case .snapshot?:
                orphans.append(name)
            }
        }
        guard let first = orphans.first else { return .fresh }
        return .damaged(
            StorageDamage(
                file: first, offset: 0,
                reason:
                    "there is no MANIFEST, but there are snapshot or log files (\(orphans.joined(separator: ", "))): "
                    + "they may hold acknowledged writes"))
    }

    private static let logHeaderSize = LogEncoder.encodeLogHeader(generation: 1, firstLSN: 1).count

    /// The incarnations the failure marker lists, one a line (empty lines skipped), and
    /// whether a line is not one. A last line without its newline is an append cut short
    /// by a crash of the machine, whose reboot makes the mark moot; it is skipped.
    static func failedRuns(_ marker: [UInt8]) -> (Set<UInt64>, unreadable: Bool) {
        var lines = String(decoding: marker, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()
        var runs = Set<UInt64>()
        var unreadable = false
        for line in lines where !line.isEmpty {
            if let incarnation = UInt64(line) { runs.insert(incarnation) } else { unreadable = true }
        }
        return (runs, unreadable)
    }

    private static func unreferencedFiles(_ names: [String], _ manifest: Manifest) -> [String] {
        var named = Set(manifest.logs.map(\.fileName))
        if let snapshot = manifest.snapshot { named.insert(snapshot.fileName) }
        return names.filter { name in
            guard let file = DataFileName(name), file != .manifest else { return false }
            return !named.contains(name)
        }.sorted()
    }
}

/// The state being rebuilt, file by file.
private struct Replay {
    let manifest: Manifest
    let bootID: [UInt8]?
    var state: RecoveredState

    init(manifest: Manifest, duplicateCapacity: Int, bootID: [UInt8]?) {
        self.manifest = manifest
        self.bootID = bootID
        state = RecoveredState(
            store: KeyValueStore(), duplicates: DuplicateTable(capacity: duplicateCapacity), lastLSN: 0, claim: nil,
            lastStart: nil, claimStart: nil, rebootedSinceClaim: false, manifest: manifest, tornTail: nil,
            lostUnsyncedTail: nil, preparedSpace: nil, lastLogEnd: nil,
            unreferencedFiles: [], temporaryFiles: [], failedRuns: [], failureMarkerUnreadable: false, snapshotKeys: 0,
            logRecordsReplayed: 0, bytesRead: 0)
    }

    private var snapshotLSN: UInt64 { manifest.snapshot?.lsn ?? 0 }

    private mutating func read(_ name: String, _ reader: some DataDirectoryReader) throws -> [UInt8] {
        guard let bytes = try reader.contents(of: name) else {
            throw StorageDamage(file: name, offset: 0, reason: "missing: the manifest names it")
        }
        state.bytesRead += bytes.count
        return bytes
    }

    mutating func loadSnapshot(_ reader: some DataDirectoryReader) throws {
        guard let reference = manifest.snapshot else { return }
        let name = reference.fileName
        var contents: SnapshotContents
        do {
            contents = try SnapshotDecoder.decode(try read(name, reader))
        } catch let error as StorageFormatError {
            throw StorageDamage(file: name, offset: error.offset, reason: error.reason)
        }
        guard contents.generation == reference.generation, contents.lsn == reference.lsn else {
            throw StorageDamage(
                file: name, offset: 0,
                reason: "the snapshot is generation \(contents.generation) at lsn \(contents.lsn); the manifest "
                    + "names generation \(reference.generation) at lsn \(reference.lsn)")
        }
        // Moved, not copied: the contents let go of the store before it is changed.
        state.store = contents.store
        contents.store = KeyValueStore()
        for entry in contents.duplicates {
            state.duplicates.record(clientID: entry.clientID, seq: entry.seq, reply: entry.reply)
        }
        state.lastLSN = contents.lsn
        state.claim = contents.claim
        state.lastStart = contents.start
        state.claimStart = contents.claim == nil ? nil : contents.start
        state.snapshotKeys = state.store.count
    }

    /// Every log in the manifest's order. The first may begin before the snapshot's lsn
    /// (its records up to there are in the snapshot and skipped) but not after the record
    /// following it; each next one begins right after the last record of the one before.
    /// Only the last may end in a torn tail: a later log begins only after the writes of
    /// the one before are synced.
    mutating func replayLogs(_ reader: some DataDirectoryReader) throws {
        var previous: (name: String, lastLSN: UInt64)?
        var seen = Set<String>()
        for (index, log) in manifest.logs.enumerated() {
            let name = log.fileName
            guard seen.insert(name).inserted else {
                throw StorageDamage(file: DataFileName.manifest.fileName, offset: 0, reason: "\(name) is named twice")
            }
            guard log.firstLSN >= 1 else {
                throw StorageDamage(file: DataFileName.manifest.fileName, offset: 0, reason: "\(name) begins at lsn 0")
            }
            // Compared as `firstLSN - 1` so that no lsn read from a file can overflow the sum.
            if let previous {
                guard log.firstLSN - 1 == previous.lastLSN else {
                    throw StorageDamage(
                        file: name, offset: 0,
                        reason: "begins at lsn \(log.firstLSN), but \(previous.name) ends at lsn \(previous.lastLSN)")
                }
            } else {
                guard log.firstLSN - 1 <= snapshotLSN else {
                    throw StorageDamage(
                        file: name, offset: 0,
                        reason: "begins at lsn \(log.firstLSN), but the snapshot ends at lsn \(snapshotLSN): the "
                            + "records between are missing")
                }
            }
            let bytes = try read(name, reader)
            let scan = LogScan.scan(bytes, generation: log.generation, expectedFirstLSN: log.firstLSN)
            let isLast = index == manifest.logs.count - 1
            for entry in scan.entries where entry.lsn > snapshotLSN { apply(entry) }
            switch scan.ending {
            case .clean:
                break
            case .tornTail(let offset):
                guard isLast else {
                    throw StorageDamage(
                        file: name, offset: offset,
                        reason: "the log ends in a write cut short, yet a later log follows it, so that write had "
                            + "been synced")
                }
                let onlyZeros = bytes.withUnsafeBytes { ZeroBytes.allZero($0, offset..<$0.count) }
                if onlyZeros {
                    state.preparedSpace = LogFilePosition(file: name, offset: offset)
                } else {
                    state.tornTail = LogFilePosition(file: name, offset: offset)
                }
            case .damaged(let offset, let reason):
                // The start record of the process that wrote this tail is in the prefix
                // (every process writes one, synced, before anything else).
                if isLast, let bootID, let start = state.lastStart, start.policy != .always,
                    !start.ranInBoot(bootID) || state.endedOnFailure(start),
                    bytes.withUnsafeBytes({
                        TornTailRule.mayBeLostUnsyncedWrites($0, at: offset, after: scan.lastLSN)
                    })
                {
                    state.tornTail = LogFilePosition(file: name, offset: offset)
                    state.lostUnsyncedTail = reason
                } else {
                    throw StorageDamage(file: name, offset: offset, reason: reason)
                }
            }
            if isLast {
                guard scan.lastLSN >= snapshotLSN else {
                    throw StorageDamage(
                        file: name, offset: scan.validEnd,
                        reason: "the last log ends at lsn \(scan.lastLSN), before the snapshot's lsn \(snapshotLSN): "
                            + "appending after it would leave a gap")
                }
                state.lastLogEnd = LogFilePosition(file: name, offset: scan.validEnd)
            }
            previous = (name, scan.lastLSN)
        }
    }

    /// What the server did when it wrote the record: `ServerCore.applyUpdate` for an
    /// update, the claim or the start taken as the latest.
    private mutating func apply(_ entry: LogEntry) {
        switch entry.record {
        case .record(.update(let update)):
            state.store.apply(update.change, revision: update.revision)
            if update.clientID != ForwardedUpdate.noClient {
                state.duplicates.record(clientID: update.clientID, seq: update.seq, reply: update.reply)
            }
        case .record(.claim(let claim)):
            state.claim = claim
            state.claimStart = state.lastStart
            state.rebootedSinceClaim = false
        case .start(let start):
            // The process before this one wrote since the claim; if it ran under everysec
            // or no and this one runs on another boot (or it ended on a failed write or
            // sync), its unsynced tail may be gone.
            if state.claimStart != nil, let previous = state.lastStart, previous.policy != .always,
                !start.ranInBoot(previous.bootID) || state.endedOnFailure(previous)
            {
                state.rebootedSinceClaim = true
            }
            state.lastStart = start
        }
        state.lastLSN = entry.lsn
        state.logRecordsReplayed += 1
    }
}
