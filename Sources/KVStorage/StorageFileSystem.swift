/// The file operations the storage engine needs, on one directory: POSIX files in the
/// daemon (`KVServices.POSIXDataDirectory`), a simulated disk that can lose what was not
/// synced in the simulator. Names are plain file names inside the directory.
///
/// Every call may throw. A write (or a creation, a rename) refused for want of space
/// throws `DiskFull`, which the engine undoes and passes on, to be waited out; any other
/// failure ends the process, and so does every failed sync, whatever its errno (an fsync
/// error is never retried: the kernel may have dropped the dirty pages it failed to
/// write, and a second fsync would report success over the hole).
public protocol StorageFileSystem: DataDirectoryReader {
    associatedtype Handle

    /// Creates a new, empty file for appending; fails if it exists.
    func create(_ name: String) throws -> Handle
    /// Opens an existing file for appending at its end.
    func openForAppend(_ name: String) throws -> Handle
    /// Appends all of `bytes` (as many write(2) calls as it takes).
    func write(_ handle: Handle, _ bytes: UnsafeRawBufferPointer) throws
    /// Writes all of `bytes` at `offset`, at most the file's size (pwrite(2)): a log's
    /// records, at its end or over the zeros `prepare` wrote there.
    func write(_ handle: Handle, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws
    /// Writes `count` zero bytes at `offset`, at or past the file's size (a gap between
    /// reads as zeros too), not synced: room for
    /// records that then change the file's size no more, so that their fdatasync has only
    /// data to flush (ext4 commits a new size through its journal, an overwrite not). A
    /// file system may do nothing (the simulator's disk does not model it). Refused for
    /// want of space: `DiskFull`, whatever part went in staying as zeros.
    func prepare(_ handle: Handle, at offset: Int, count: Int) throws
    /// fdatasync: the file's data (and the size needed to read it) is on disk.
    func sync(_ handle: Handle) throws
    func close(_ handle: Handle)
    /// Replaces `to` by `from` in one step (rename(2)); durable only after `syncDirectory`.
    func rename(_ from: String, to: String) throws
    /// fsync of the directory: creations, renames and removals so far are on disk.
    func syncDirectory() throws
    func remove(_ name: String) throws
    /// Cuts `name` to `length` bytes and syncs it.
    func truncate(_ name: String, to length: Int) throws
    /// Creates the subdirectory `name` (for files set aside); its entry in the directory is
    /// durable only after `syncDirectory`.
    func makeSubdirectory(_ name: String) throws
    /// fsync of the subdirectory `name`: the files renamed into it are on disk there.
    func syncSubdirectory(_ name: String) throws
    /// A file's size in bytes, for reports; nil if it does not exist.
    func size(of name: String) -> Int?
}

extension StorageFileSystem {
    public func write(_ handle: Handle, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write(handle, $0) }
    }

    /// Zeros written in pieces of `ZeroBytes.piece`.
    public func prepare(_ handle: Handle, at offset: Int, count: Int) throws {
        var done = 0
        while done < count {
            let length = min(ZeroBytes.piece.count, count - done)
            try ZeroBytes.piece.withUnsafeBytes {
                try write(handle, UnsafeRawBufferPointer(rebasing: $0[..<length]), at: offset + done)
            }
            done += length
        }
    }

    /// Writes `chunks` to a new file `name` and syncs it, replacing any leftover of a
    /// crashed attempt.
    public func writeFile(_ name: String, _ chunks: [[UInt8]]) throws {
        if try contents(of: name) != nil { try remove(name) }
        let handle = try create(name)
        defer { close(handle) }
        for chunk in chunks { try write(handle, chunk) }
        try sync(handle)
    }

    /// Replaces `name` atomically with `bytes`: a temporary file, written and synced,
    /// renamed over it, and the directory synced so the rename itself survives.
    public func replaceAtomically(_ name: String, with bytes: [UInt8]) throws {
        let temporary = name == DataFileName.manifest.fileName ? DataFileName.manifestTemporary : name + ".tmp"
        try writeFile(temporary, [bytes])
        try rename(temporary, to: name)
        try syncDirectory()
    }
}
