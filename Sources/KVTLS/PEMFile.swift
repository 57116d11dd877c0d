#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads a whole (small) file, with the system's reason when it cannot.
enum PEMFile {
    /// Far above any certificate bundle; a bound on what a wrong path can make us read.
    static let maxSize = 1 << 20

    static func contents(of path: String, what: String) throws(TLSSetupError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TLSSetupError("cannot open the \(what) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TLSSetupError("cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= maxSize else {
                throw TLSSetupError("the \(what) \(path) is larger than \(maxSize) bytes: not a PEM file")
            }
        }
        return bytes
    }
}
