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

    func fileNames() throws -> [String] { files.keys.filter { !$0.contains("/") }.sorted() }
    func contents(of name: String) throws -> [UInt8]? { files[name] }

    func create(_ name: String) throws -> Handle {
        files[name] = []
        return Handle(name: name)
    }

    func openForAppend(_ name: String) throws -> Handle {
        guard files[name] != nil else { throw Missing(name: name) }
        return Handle(name: name)
    }

    func write(_ handle: Handle, _ bytes: [UInt8]) throws {
        let length = files[handle.name]!.count
        if case .log = DataFileName(handle.name), length > synced[handle.name] ?? 0 {
            writesAfterUnsyncedWrites.append("\(handle.name): synced \(synced[handle.name] ?? 0), written \(length)")
        }
        files[handle.name]! += bytes
    }

    func sync(_ handle: Handle) throws { synced[handle.name] = files[handle.name]!.count }
    func close(_ handle: Handle) {}

    func rename(_ from: String, to: String) throws {
        guard let bytes = files.removeValue(forKey: from) else { throw Missing(name: from) }
        files[to] = bytes
        synced[to] = synced.removeValue(forKey: from)
    }

    func syncDirectory() throws {}
    func remove(_ name: String) throws {
        files[name] = nil
        synced[name] = nil
    }

    func truncate(_ name: String, to length: Int) throws {
        guard let bytes = files[name] else { throw Missing(name: name) }
        files[name] = Array(bytes.prefix(length))
        synced[name] = min(length, bytes.count)
    }

    func makeSubdirectory(_ name: String) throws {}
    func size(of name: String) -> Int? { files[name]?.count }
}
