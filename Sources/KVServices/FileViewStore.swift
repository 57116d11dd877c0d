import KVProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps the monitor's view in `DIR/view` as a few readable lines.
///
/// A save writes `view.tmp`, fsyncs it, renames it over `view` and fsyncs the directory,
/// so after a crash the file holds either the old view or the new one, never a mix. It
/// blocks for as long as the disk takes: the monitor runs it on a thread pool, one save
/// at a time.
public final class FileViewStore: Sendable {
    public struct StoreError: Error, CustomStringConvertible {
        public var description: String
    }

    public let directory: String
    private var path: String { directory + "/view" }

    public init(directory: String) {
        self.directory = directory
    }

    /// The stored view, nil if there is none yet. A file that exists but cannot be read
    /// is an error: starting from view 0 would let an empty server become primary.
    public func load() throws -> View? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StoreError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError(description: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > 64 * 1024 { throw StoreError(description: "\(path) is too large to be a view") }
        }
        return try Self.parse(String(decoding: bytes, as: UTF8.self), path: path)
    }

    static func parse(_ text: String, path: String) throws -> View {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            fields[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        guard fields["kvservice-view"] == "1", let viewnum = fields["viewnum"].flatMap({ UInt64($0) }),
            let primary = fields["primary"], let backup = fields["backup"], let acked = fields["acked"],
            acked == "0" || acked == "1"
        else {
            throw StoreError(description: "\(path) is not a valid view file; refusing to start from an empty view")
        }
        // Absent in a view saved before clusters were named: the monitor names it at its
        // next view change.
        var cluster: UInt64 = 0
        if let text = fields["cluster"] {
            guard let parsed = ClusterID.parse(text) else {
                throw StoreError(description: "\(path) names no valid cluster (\(text)); refusing to start from it")
            }
            cluster = parsed
        }
        let view = View(
            viewnum: viewnum, primary: primary == "-" ? "" : primary, backup: backup == "-" ? "" : backup,
            acked: acked == "1", cluster: cluster)
        // A view the monitor could never have made (view 0 naming a server, a later view
        // without a primary, one server in both roles) means the file is not what was
        // saved: starting from it would be as wrong as starting from nothing.
        let possible =
            view.viewnum == 0
            ? view.primary.isEmpty && view.backup.isEmpty && !view.acked && view.cluster == 0
            : !view.primary.isEmpty && view.primary != view.backup
        guard possible else {
            throw StoreError(description: "\(path) holds an impossible view (\(view)); refusing to start from it")
        }
        return view
    }

    static func render(_ view: View) -> String {
        """
        kvservice-view 1
        viewnum \(view.viewnum)
        primary \(view.primary.isEmpty ? "-" : view.primary)
        backup \(view.backup.isEmpty ? "-" : view.backup)
        acked \(view.acked ? 1 : 0)

        """ + (view.cluster == 0 ? "" : "cluster \(ClusterID.text(view.cluster))\n")
    }

    public func save(_ view: View) throws {
        let temporary = path + ".tmp"
        let bytes = Array(Self.render(view).utf8)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("open \(temporary)") }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count <= 0 {
                if count < 0 && errno == EINTR { continue }
                // A write of 0 bytes makes no progress: retrying it would spin.
                let error =
                    count < 0
                    ? failure("write \(temporary)") : StoreError(description: "write \(temporary) wrote nothing")
                close(fd)
                unlink(temporary)
                throw error
            }
            written += count
        }
        if fsync(fd) != 0 {
            let error = failure("fsync \(temporary)")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = failure("rename \(temporary)")
            unlink(temporary)
            throw error
        }
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw failure("open \(directory)") }
        defer { close(dirfd) }
        guard fsync(dirfd) == 0 else { throw failure("fsync \(directory)") }
    }

    /// Renames the file to `view.imported` once its view is in etcd: a file left in place
    /// would be imported again into an etcd that lost its keys, with a view older than
    /// the last one handed out.
    public func retireImported() throws {
        guard rename(path, path + ".imported") == 0 else { throw failure("rename \(path)") }
    }

    private func failure(_ what: String) -> StoreError {
        StoreError(description: "\(what): \(String(cString: strerror(errno)))")
    }
}
