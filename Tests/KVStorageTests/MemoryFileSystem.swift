import KVStorage

/// A data directory in memory for `StorageEngine`: files by name, no crash semantics
/// (every write is on "disk" at once). Enough for following one directory through
/// several process starts. It notes each write to a log that still holds bytes written
/// before and not synced: under `always` the engine never makes one.
final class MemoryFileSystem: StorageFileSystem {
    struct Handle {
        let name: String
    }

    struct Missing: Error {
        let name: String
    }

    var files: [String: [UInt8]] = [:]
    /// Bytes of each file up to its last sync.
    var synced: [String: Int] = [:]
    /// Logs written to while they held unsynced bytes, with the lengths synced and written.
    var writesAfterUnsyncedWrites: [String] = []
    /// The directory operations and syncs, in order ("create NAME", "rename A B",
    /// "remove NAME", "truncate NAME", "sync NAME", "syncDirectory", "mkdir NAME",
    /// "syncSubdirectory NAME").
    var operations: [String] = []

    func fileNames() throws -> [String] { files.keys.filter { !$0.contains("/") }.sorted() }
    func contents(of name: String) throws -> [UInt8]? { files[name] }

    func create(_ name: String) throws -> Handle {
        operations.append("create \(name)")
        files[name] = []
        return Handle(name: name)
    }

    func openForAppend(_ name: String) throws -> Handle {
        guard files[name] != nil else { throw Missing(name: name) }
        return Handle(name: name)
    }

    /// Bytes that still fit; nil: no limit. A write that does not fit writes what fits,
    /// then fails with `DiskFull`, as write(2) does (a short write, then ENOSPC).
    var spaceLeft: Int?

    func write(_ handle: Handle, _ raw: UnsafeRawBufferPointer) throws {
        let bytes = [UInt8](raw)
        if let space = spaceLeft {
            if bytes.count > space {
                files[handle.name]! += bytes.prefix(space)
                spaceLeft = 0
                throw DiskFull("no space left on device")
            }
            spaceLeft = space - bytes.count
        }
        noteWrite(handle.name, at: files[handle.name]!.count)
        files[handle.name]! += bytes
    }

    /// Files written since their last sync.
    private var unsynced: Set<String> = []

    private func noteWrite(_ name: String, at offset: Int) {
        if case .log = DataFileName(name), unsynced.contains(name) {
            writesAfterUnsyncedWrites.append("\(name): synced \(synced[name] ?? 0), written at \(offset)")
        }
        unsynced.insert(name)
    }

    /// Zeros at or past the end (a gap is zeros too), as many as fit, then `DiskFull` if not
    /// all did (not a write of records: `writesAfterUnsyncedWrites` does not count it).
    func prepare(_ handle: Handle, at offset: Int, count: Int) throws {
        let length = files[handle.name]!.count
        precondition(offset >= length, "zeros prepared at \(offset), inside a file of \(length) bytes")
        prepareCalls += 1
        let growth = offset + count - length
        let fitting = min(growth, spaceLeft ?? growth)
        spaceLeft = spaceLeft.map { $0 - fitting }
        files[handle.name]! += [UInt8](repeating: 0, count: fitting)
        if fitting < growth { throw DiskFull("no space left on device") }
    }

    /// Calls of `prepare`.
    var prepareCalls = 0

    /// Writes within the file or at its end (over zeros `prepare` wrote), under the same
    /// limit of space.
    func write(_ handle: Handle, _ raw: UnsafeRawBufferPointer, at offset: Int) throws {
        let length = files[handle.name]!.count
        precondition(offset <= length, "a write at \(offset) of a file of \(length) bytes")
        var bytes = [UInt8](raw)
        var full = false
        if let space = spaceLeft, offset + bytes.count > length {
            let growth = offset + bytes.count - length
            if growth > space {
                bytes.removeLast(growth - space)
                full = true
            }
            spaceLeft = space - min(growth, space)
        }
        noteWrite(handle.name, at: offset)
        files[handle.name]!.write(bytes, at: offset)
        if full { throw DiskFull("no space left on device") }
    }

    /// Set: every fdatasync fails (an I/O error), as on a failing disk.
    var syncsFail = false

    struct SyncFailure: Error {}

    func sync(_ handle: Handle) throws {
        if syncsFail { throw SyncFailure() }
        operations.append("sync \(handle.name)")
        synced[handle.name] = files[handle.name]!.count
        unsynced.remove(handle.name)
    }
    func close(_ handle: Handle) {}

    func rename(_ from: String, to: String) throws {
        guard let bytes = files.removeValue(forKey: from) else { throw Missing(name: from) }
        operations.append("rename \(from) \(to)")
        files[to] = bytes
        synced[to] = synced.removeValue(forKey: from)
    }

    func syncDirectory() throws { operations.append("syncDirectory") }
    func remove(_ name: String) throws {
        operations.append("remove \(name)")
        files[name] = nil
        synced[name] = nil
    }

    func truncate(_ name: String, to length: Int) throws {
        guard let bytes = files[name] else { throw Missing(name: name) }
        operations.append("truncate \(name)")
        files[name] = Array(bytes.prefix(length))
        // A cut gives its space back, as on a disk.
        spaceLeft = spaceLeft.map { $0 + max(0, bytes.count - length) }
        synced[name] = min(length, bytes.count)
        unsynced.remove(name)
    }

    func makeSubdirectory(_ name: String) throws { operations.append("mkdir \(name)") }
    func syncSubdirectory(_ name: String) throws { operations.append("syncSubdirectory \(name)") }
    func size(of name: String) -> Int? { files[name]?.count }
}

extension [UInt8] {
    /// pwrite(2) on a file's bytes: over those from `offset`, and on past its end.
    mutating func write(_ bytes: some Collection<UInt8>, at offset: Int) {
        let overwritten = Swift.min(bytes.count, count - offset)
        replaceSubrange(offset..<offset + overwritten, with: bytes.prefix(overwritten))
        append(contentsOf: bytes.dropFirst(overwritten))
    }
}
