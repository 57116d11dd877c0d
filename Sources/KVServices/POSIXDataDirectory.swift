import KVStorage
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A server's data directory on a real file system, for `StorageEngine`: plain POSIX
/// calls on files inside one directory, whose descriptor is kept for fsync. Stateless
/// apart from that, so the snapshot writer may use it from its own thread.
public final class POSIXDataDirectory: StorageFileSystem, @unchecked Sendable {
    public typealias Handle = Int32

    public struct IOError: Error, CustomStringConvertible {
        public var description: String
    }

    public let path: String
    private let directory: Int32
    /// For tests: bytes writes may still add before write(2) is answered ENOSPC, as on a
    /// full disk; -1, the default, leaves write(2) alone. One relaxed load a write.
    private let spaceForTests = Atomic<Int>(-1)

    /// For tests: from now on writes fail with ENOSPC once `bytes` more have gone out
    /// (a short write first, if one straddles the limit); nil lifts the limit.
    public func limitSpaceForTests(to bytes: Int?) {
        spaceForTests.store(bytes ?? -1, ordering: .relaxed)
    }

    /// For tests: runs before each fdatasync of a file, on the thread that syncs; what it
    /// throws fails the sync as an I/O error would. Nil, the default.
    private let syncHookForTests = Mutex<(@Sendable () throws -> Void)?>(nil)

    /// For tests: `hook` runs before each fdatasync of a file from now on (nil: none).
    func interceptSyncsForTests(_ hook: (@Sendable () throws -> Void)?) {
        syncHookForTests.withLock { $0 = hook }
    }

    /// Opens `path`, creating it (mode 0700) if it does not exist.
    public convenience init(path: String) throws {
        try self.init(path: path, syncingParent: Self.syncDirectory(at:))
    }

    /// `syncParent` is the fsync of a directory by path (tests pass one that records it).
    init(path: String, syncingParent syncParent: (String) throws -> Void) throws {
        self.path = path
        if mkdir(path, 0o700) == 0 {
            // The new directory's name is durable before any file in it is written.
            try syncParent(Self.parent(of: path))
        } else if errno == EEXIST {
            // A process that created it may have died before that sync; best effort here,
            // as the parent may not be readable (the directory was made for the server).
            try? syncParent(Self.parent(of: path))
        } else {
            throw IOError(description: "cannot create the data directory \(path): \(Self.lastError())")
        }
        directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else {
            throw IOError(description: "cannot open the data directory \(path): \(Self.lastError())")
        }
    }

    deinit { _ = Glibc.close(directory) }

    private static func lastError() -> String { String(cString: strerror(errno)) }

    /// The directory that holds `path`'s last component.
    static func parent(of path: String) -> String {
        var path = Substring(path)
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// fsync of the directory at `path`.
    static func syncDirectory(at path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(description: "cannot open the directory \(path): \(lastError())") }
        defer { _ = Glibc.close(fd) }
        guard fsync(fd) == 0 else {
            throw IOError(description: "fsync of the directory \(path) failed: \(lastError())")
        }
    }

    private func full(_ name: String) -> String { path + "/" + name }

    /// The error of the failed call before: `DiskFull` for want of space, which the
    /// engine may wait out. Not for syncs, which are never retried.
    private func failure(_ what: String, _ name: String) -> any Error {
        Self.error("\(what) \(full(name))")
    }

    /// `what`, with errno's text.
    private static func error(_ what: String) -> any Error {
        let code = errno
        let description = "\(what): \(String(cString: strerror(code)))"
        return code == ENOSPC || code == EDQUOT ? DiskFull(description) : IOError(description: description)
    }

    public func fileNames() throws -> [String] {
        guard let stream = opendir(path) else { throw failure("cannot list", "") }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." && entry.pointee.d_type != UInt8(DT_DIR) { names.append(name) }
        }
        return names.sorted()
    }

    public func contents(of name: String) throws -> [UInt8]? {
        let fd = open(full(name), O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw failure("cannot open", name)
        }
        defer { _ = Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("cannot stat", name) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read", name)
            }
            if count == 0 { break }
            filled += count
        }
        // A file that shrank under us is read as it is now.
        if filled < bytes.count { bytes.removeLast(bytes.count - filled) }
        return bytes
    }

    public func create(_ name: String) throws -> Int32 {
        // Not O_APPEND: Linux's pwrite(2) would ignore its offset (a log's records go over
        // the zeros prepared ahead of them). A file written in order ends where it is written.
        let fd = open(full(name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot create", name) }
        return fd
    }

    public func openForAppend(_ name: String) throws -> Int32 {
        let fd = open(full(name), O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", name) }
        guard lseek(fd, 0, SEEK_END) >= 0 else {
            let error = failure("cannot seek to the end of", name)
            _ = Glibc.close(fd)
            throw error
        }
        return fd
    }

    public func write(_ handle: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        try writeWithinSpace(bytes) { Glibc.write(handle, $0, $1) }
    }

    public func write(_ handle: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        guard let base = bytes.baseAddress else { return }
        try writeWithinSpace(bytes) { Glibc.pwrite(handle, $0, $1, off_t(offset + ($0 - base))) }
    }

    /// `writeAll` through `write`, which a limit set by `limitSpaceForTests` cuts short.
    private func writeWithinSpace(
        _ bytes: UnsafeRawBufferPointer, _ write: (UnsafeRawPointer, Int) -> Int
    ) throws {
        guard spaceForTests.load(ordering: .relaxed) >= 0 else {
            return try Self.writeAll(bytes, in: path, write)
        }
        try Self.writeAll(bytes, in: path) { pointer, count in
            let space = spaceForTests.load(ordering: .relaxed)
            guard space != 0 else {
                errno = ENOSPC
                return -1
            }
            let written = write(pointer, space < 0 ? count : min(count, space))
            if space > 0, written > 0 { spaceForTests.store(space - written, ordering: .relaxed) }
            return written
        }
    }

    /// Writes all of `bytes` with `write` (write(2) on a descriptor), as many calls as it
    /// takes. A call that writes nothing is an error: with a count above zero, write(2)
    /// returns 0 only when it cannot go on, and retrying it would spin for ever.
    static func writeAll(
        _ bytes: UnsafeRawBufferPointer, in path: String, _ write: (UnsafeRawPointer, Int) -> Int
    ) throws {
        var written = 0
        while written < bytes.count {
            let count = write(bytes.baseAddress! + written, bytes.count - written)
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.error("cannot write to \(path)")
            }
            if count == 0 {
                throw IOError(description: "cannot write to \(path): write(2) wrote nothing")
            }
            written += count
        }
    }

    public func sync(_ handle: Int32) throws {
        if let hook = syncHookForTests.withLock({ $0 }) { try hook() }
        guard fdatasync(handle) == 0 else {
            throw IOError(description: "fdatasync failed in \(path): \(Self.lastError())")
        }
    }

    public func close(_ handle: Int32) { _ = Glibc.close(handle) }

    public func rename(_ from: String, to: String) throws {
        guard Glibc.rename(full(from), full(to)) == 0 else { throw failure("cannot rename \(full(from)) to", to) }
    }

    public func syncDirectory() throws {
        guard fsync(directory) == 0 else {
            throw IOError(description: "fsync of the directory \(path) failed: \(Self.lastError())")
        }
    }

    public func remove(_ name: String) throws {
        guard unlink(full(name)) == 0 || errno == ENOENT else { throw failure("cannot remove", name) }
    }

    public func truncate(_ name: String, to length: Int) throws {
        let fd = open(full(name), O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", name) }
        defer { _ = Glibc.close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw IOError(description: "cannot truncate \(full(name)): \(Self.lastError())")
        }
        try sync(fd)
    }

    public func makeSubdirectory(_ name: String) throws {
        guard mkdir(full(name), 0o700) == 0 || errno == EEXIST else { throw failure("cannot create", name) }
    }

    public func syncSubdirectory(_ name: String) throws {
        try Self.syncDirectory(at: full(name))
    }

    /// The size of a file, for reports; nil if it does not exist.
    public func size(of name: String) -> Int? {
        var info = stat()
        guard stat(full(name), &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    /// This boot of the machine (/proc/sys/kernel/random/boot_id), as 16 bytes: data
    /// written but not synced survives a process crash, not a reboot. When it cannot be
    /// read, `ServerStart.unknownBootID`, which never counts as the same boot.
    public static func bootID() -> [UInt8] {
        let fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return ServerStart.unknownBootID }
        defer { _ = Glibc.close(fd) }
        var text = [UInt8](repeating: 0, count: 64)
        let count = text.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        let hex = text.prefix(max(0, count)).filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: "\n") }
        var id: [UInt8] = []
        var index = hex.startIndex
        while id.count < 16, index + 1 < hex.endIndex {
            guard let high = Self.nibble(hex[index]), let low = Self.nibble(hex[index + 1]) else { break }
            id.append(high << 4 | low)
            index += 2
        }
        return id.count == 16 ? id : ServerStart.unknownBootID
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
