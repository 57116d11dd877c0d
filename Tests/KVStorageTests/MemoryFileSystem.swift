import KVStorage

/// A data directory in memory for `StorageEngine`: files by name, no crash semantics
/// (every write is on "disk" at once). Enough for following one directory through
/// several process starts.
final class MemoryFileSystem: StorageFileSystem {
    struct Handle {
        let name: String
    }

    struct Missing: Error {
        let name: String
    }

    var files: [String: [UInt8]] = [:]

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

    func write(_ handle: Handle, _ bytes: [UInt8]) throws { files[handle.name]! += bytes }
    func sync(_ handle: Handle) throws {}
    func close(_ handle: Handle) {}

    func rename(_ from: String, to: String) throws {
        guard let bytes = files.removeValue(forKey: from) else { throw Missing(name: from) }
        files[to] = bytes
    }

    func syncDirectory() throws {}
    func remove(_ name: String) throws { files[name] = nil }

    func truncate(_ name: String, to length: Int) throws {
        guard let bytes = files[name] else { throw Missing(name: name) }
        files[name] = Array(bytes.prefix(length))
    }

    func makeSubdirectory(_ name: String) throws {}
    func size(of name: String) -> Int? { files[name]?.count }
}
