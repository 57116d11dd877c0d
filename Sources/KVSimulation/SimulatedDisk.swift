import KVStorage

/// A server's disk in the simulation: the directory `StorageEngine` writes, which outlives
/// the process, so that the simulator runs the production engine and recovery over it.
///
/// It keeps apart what the process sees from what a power loss leaves: each file has
/// its written bytes and how many of them are durable (`sync` makes all of a file's
/// bytes durable), and the directory has its entries as the process sees them and as they
/// are durable (creations, renames and removals wait for `syncDirectory`). A process that
/// crashes loses nothing here (the kernel's page cache outlives it); a machine that
/// crashes or loses power loses what was not durable, in one of the ways
/// `SimulatedDisk.Loss` lists (`powerLoss`). Single-threaded, like the rest of the
/// simulation.
final class SimulatedDisk: StorageFileSystem {
    struct Handle {
        fileprivate let inode: Int
    }

    struct DiskError: Error, CustomStringConvertible {
        let description: String
    }

    /// Thrown by the operation during which the machine crashes (`crashesAfter`): the
    /// process dies there, in the middle of whatever the engine was doing.
    struct MachineCrash: Error, CustomStringConvertible {
        var description: String { "the machine crashed" }
    }

    /// How a crash of the machine treats the bytes written since the last sync of each
    /// file. Whatever it keeps becomes durable (it reached the disk).
    enum Loss: CaseIterable {
        /// Every unsynced byte is gone.
        case whole
        /// Each file keeps a prefix of its unsynced bytes, cut at any byte.
        case prefix
        /// Each file ends anywhere in its unsynced bytes, and each 512-byte sector of them
        /// was written or not: the ones not written read as zeros.
        case sectors
        /// Each file keeps its unsynced writes but the last, which is cut at any byte.
        case tornLastWrite
    }

    /// How a crash of the machine treats directory operations since the last
    /// `syncDirectory`: they reach the disk in order, so a prefix of them survives.
    enum DirectoryLoss: CaseIterable {
        case nothingLost
        case somePrefixKept
        case everythingLost
    }

    /// A file's data, wherever the directory names it (a handle keeps it even when no
    /// name does).
    private struct Inode {
        var bytes: [UInt8] = []
        /// Bytes [0, durable) survive a crash of the machine.
        var durable = 0
        /// Where each write began: a write is one group commit of the engine.
        var writeStarts: [Int] = []
    }

    private enum DirectoryOperation {
        case link(String, Int)
        case unlink(String)
        case rename(String, String)
    }

    private var inodes: [Int: Inode] = [:]
    private var nextInode = 1
    /// The directory as the process sees it.
    private var entries: [String: Int] = [:]
    /// The directory as it would be found after a crash of the machine, but for the
    /// operations still pending.
    private var durableEntries: [String: Int] = [:]
    private var pending: [DirectoryOperation] = []
    /// Files with a flipped bit (`flipDurableBit`).
    private var flipped: Set<Int> = []
    /// Armed by the fault planner: the next `sync` fails. The value says whether the
    /// kernel then drops the file's unsynced pages, as it may after a failed write-back.
    var nextSyncFails: Bool?
    /// Set by the fault planner while the disk is full: a write goes half through, then
    /// fails with `DiskFull` (a short write, then ENOSPC); a creation or a rename fails
    /// before it takes effect. Syncs, truncations and removals go on.
    var full = false
    /// Armed by the fault planner: the machine crashes during the operation that changes
    /// the disk this many such operations from now (0: the next), before it takes effect.
    var crashesAfter: Int?
    /// Set once a crash point struck, until `powerLoss`: the machine is down, and every
    /// operation that would change the disk throws.
    private var crashed = false

    // MARK: - DataDirectoryReader

    func fileNames() throws -> [String] {
        // Files set aside live in a subdirectory, which a listing does not enter.
        entries.keys.filter { !$0.contains("/") }.sorted()
    }

    func contents(of name: String) throws -> [UInt8]? {
        entries[name].map { inodes[$0]!.bytes }
    }

    // MARK: - StorageFileSystem

    func create(_ name: String) throws -> Handle {
        try reachCrashPoint()
        if full { throw DiskFull("cannot create \(name): no space left on device") }
        guard entries[name] == nil else { throw DiskError(description: "cannot create \(name): it exists") }
        let inode = nextInode
        nextInode += 1
        inodes[inode] = Inode()
        entries[name] = inode
        pending.append(.link(name, inode))
        return Handle(inode: inode)
    }

    func openForAppend(_ name: String) throws -> Handle {
        guard let inode = entries[name] else { throw DiskError(description: "cannot open \(name): no such file") }
        return Handle(inode: inode)
    }

    func write(_ handle: Handle, _ raw: UnsafeRawBufferPointer) throws {
        try reachCrashPoint()
        let bytes = [UInt8](raw)
        guard !bytes.isEmpty else { return }
        inodes[handle.inode]!.writeStarts.append(inodes[handle.inode]!.bytes.count)
        if full {
            inodes[handle.inode]!.bytes += bytes.prefix(bytes.count / 2)
            throw DiskFull("cannot write: no space left on device")
        }
        inodes[handle.inode]!.bytes += bytes
    }

    /// A log's records, at its end: this disk leaves `prepare` undone, so no file has
    /// zeros to write over.
    func write(_ handle: Handle, _ raw: UnsafeRawBufferPointer, at offset: Int) throws {
        guard offset == inodes[handle.inode]!.bytes.count else {
            throw DiskError(description: "a write at \(offset) of a file of \(inodes[handle.inode]!.bytes.count) bytes")
        }
        try write(handle, raw)
    }

    /// Not modelled: a file system may leave it undone, and the engine must work as well
    /// without it (the prepared zeros are tested over `MemoryFileSystem` and real files).
    func prepare(_ handle: Handle, at offset: Int, count: Int) throws {}

    func sync(_ handle: Handle) throws {
        try reachCrashPoint()
        if let dropsPages = nextSyncFails {
            nextSyncFails = nil
            if dropsPages { cut(handle.inode, to: inodes[handle.inode]!.durable) }
            throw DiskError(description: "fdatasync failed: I/O error")
        }
        inodes[handle.inode]!.durable = inodes[handle.inode]!.bytes.count
    }

    func close(_ handle: Handle) {}

    func rename(_ from: String, to: String) throws {
        try reachCrashPoint()
        if full { throw DiskFull("cannot rename \(from): no space left on device") }
        guard let inode = entries.removeValue(forKey: from) else {
            throw DiskError(description: "cannot rename \(from): no such file")
        }
        entries[to] = inode
        pending.append(.rename(from, to))
    }

    func syncDirectory() throws {
        try reachCrashPoint()
        durableEntries = entries
        pending.removeAll()
    }

    func remove(_ name: String) throws {
        try reachCrashPoint()
        guard entries.removeValue(forKey: name) != nil else { return }
        pending.append(.unlink(name))
    }

    func truncate(_ name: String, to length: Int) throws {
        try reachCrashPoint()
        guard let inode = entries[name] else { throw DiskError(description: "cannot truncate \(name): no such file") }
        cut(inode, to: min(length, inodes[inode]!.bytes.count))
        inodes[inode]!.durable = inodes[inode]!.bytes.count
    }

    func makeSubdirectory(_ name: String) throws {}

    /// Files set aside are entries of this one directory here (named `sub/file`), made
    /// durable by `syncDirectory` with the rest; a sync of the subdirectory alone makes
    /// none durable (it would not make the removals from the directory durable either).
    func syncSubdirectory(_ name: String) throws {
        try reachCrashPoint()
    }

    func size(of name: String) -> Int? {
        entries[name].map { inodes[$0]!.bytes.count }
    }

    // MARK: - Faults

    /// What a crash of the machine took: unsynced bytes kept and lost, directory
    /// operations lost.
    struct LossReport: CustomStringConvertible {
        var keptBytes = 0
        var lostBytes = 0
        var lostOperations = 0

        var description: String {
            "unsynced bytes: \(keptBytes) kept, \(lostBytes) lost; directory operations: \(lostOperations) lost"
        }
    }

    /// The machine crashes or loses power: each file keeps its durable bytes and what
    /// `loss` leaves of the rest, the directory what `directoryLoss` leaves of the
    /// operations since its last sync.
    func powerLoss(_ loss: Loss, directoryLoss: DirectoryLoss, random: inout SimulationRandom) -> LossReport {
        var report = LossReport()
        for id in inodes.keys.sorted() where inodes[id]!.bytes.count > inodes[id]!.durable {
            let before = inodes[id]!.bytes.count
            let durable = inodes[id]!.durable
            switch loss {
            case .whole:
                cut(id, to: durable)
            case .prefix:
                cut(id, to: Int(random.between(UInt64(durable), UInt64(before))))
            case .tornLastWrite:
                let lastStart = max(durable, inodes[id]!.writeStarts.last ?? 0)
                cut(id, to: Int(random.between(UInt64(lastStart), UInt64(before - 1))))
            case .sectors:
                let end = random.chance(permille: 500) ? before : Int(random.between(UInt64(durable), UInt64(before)))
                cut(id, to: end)
                // Sector by sector, the unsynced part either reached the disk or did not
                // (then the sector holds its old contents: the durable bytes, and zeros
                // beyond them).
                var sector = durable / 512 * 512
                while sector < end {
                    if random.chance(permille: 500) {
                        for index in max(sector, durable)..<min(sector + 512, end) { inodes[id]!.bytes[index] = 0 }
                    }
                    sector += 512
                }
            }
            inodes[id]!.durable = inodes[id]!.bytes.count
            report.keptBytes += inodes[id]!.bytes.count - durable
            report.lostBytes += before - inodes[id]!.bytes.count
        }
        let kept: Int
        switch directoryLoss {
        case .nothingLost: kept = pending.count
        case .somePrefixKept: kept = random.below(pending.count + 1)
        case .everythingLost: kept = 0
        }
        report.lostOperations = pending.count - kept
        for operation in pending.prefix(kept) {
            switch operation {
            case .link(let name, let inode): durableEntries[name] = inode
            case .unlink(let name): durableEntries[name] = nil
            case .rename(let from, let to): durableEntries[to] = durableEntries.removeValue(forKey: from)
            }
        }
        pending.removeAll()
        crashed = false
        entries = durableEntries
        // Files no name reaches are gone for good.
        let reachable = Set(entries.values)
        inodes = inodes.filter { reachable.contains($0.key) }
        return report
    }

    /// Whether a crash of the machine now would lose anything.
    var hasUnsyncedData: Bool {
        !pending.isEmpty || inodes.values.contains { $0.bytes.count > $0.durable }
    }

    /// Flips one bit of the durable bytes of a file the manifest names (the manifest
    /// itself included), as a disk's bit rot would; before `powerLoss`, while the durable
    /// bytes are the synced ones. Spares the last synced write of each log: a flip there,
    /// followed by nothing valid, can look like a write cut short (docs/STORAGE.md, "Limits
    /// of the rule"), and recovery would take it for one. Returns where it flipped, or nil
    /// if there is no durable manifest (or directory operations are pending).
    func flipDurableBit(random: inout SimulationRandom) -> String? {
        guard pending.isEmpty, let manifestInode = durableEntries[DataFileName.manifest.fileName],
            let manifest = try? Manifest.decode(
                Array(inodes[manifestInode]!.bytes.prefix(inodes[manifestInode]!.durable)))
        else { return nil }
        var candidates: [(name: String, inode: Int, length: Int)] = []
        func consider(_ name: String, sparingLastWrite: Bool) {
            guard let id = durableEntries[name], let inode = inodes[id] else { return }
            var length = inode.durable
            if sparingLastWrite { length = inode.writeStarts.last { $0 < inode.durable } ?? 0 }
            if length > 0 { candidates.append((name, id, length)) }
        }
        consider(DataFileName.manifest.fileName, sparingLastWrite: false)
        if let snapshot = manifest.snapshot { consider(snapshot.fileName, sparingLastWrite: false) }
        for log in manifest.logs { consider(log.fileName, sparingLastWrite: true) }
        let total = candidates.reduce(0) { $0 + $1.length }
        guard total > 0 else { return nil }
        var offset = random.below(total)
        for candidate in candidates {
            if offset < candidate.length {
                let bit = random.below(8)
                inodes[candidate.inode]!.bytes[offset] ^= 1 << UInt8(bit)
                flipped.insert(candidate.inode)
                return "bit \(bit) of byte \(offset) of \(candidate.name)"
            }
            offset -= candidate.length
        }
        return nil
    }

    /// The files in the directory (not set aside in a subdirectory) that hold a flipped
    /// bit: recovery must find them damaged.
    var filesWithFlippedBits: [String] {
        entries.filter { !$0.key.contains("/") && flipped.contains($0.value) }.map(\.key).sorted()
    }

    private func reachCrashPoint() throws {
        if crashed { throw MachineCrash() }
        guard let remaining = crashesAfter else { return }
        guard remaining == 0 else {
            crashesAfter = remaining - 1
            return
        }
        crashesAfter = nil
        crashed = true
        throw MachineCrash()
    }

    private func cut(_ inode: Int, to length: Int) {
        inodes[inode]!.bytes.removeLast(inodes[inode]!.bytes.count - length)
        inodes[inode]!.writeStarts.removeAll { $0 >= length }
        inodes[inode]!.durable = min(inodes[inode]!.durable, length)
    }
}
