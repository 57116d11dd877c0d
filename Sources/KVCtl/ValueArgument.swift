import ArgumentParser
import KVProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A VALUE argument: the argument's UTF-8 bytes, or standard input's bytes for "-", so a
/// shell can store values of any bytes and size (`kvctl put KEY - < file`).
enum ValueArgument {
    static func bytes(_ argument: String) throws -> Bytes {
        guard argument == "-" else { return Bytes(utf8: argument) }
        return try readAll(0, limit: Limits.maxValueSize, what: "the value on standard input")
    }

    /// Everything `fd` holds until its end, at most `limit` bytes; says what went wrong
    /// (naming `what`) and exits 1 otherwise.
    static func readAll(_ fd: Int32, limit: Int, what: String) throws -> Bytes {
        var bytes: Bytes = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                Output.error("cannot read \(what): \(String(cString: strerror(errno)))")
                throw ExitCode.failure
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit {
                Output.error("\(what) exceeds the limit of \(limit) bytes")
                throw ExitCode.failure
            }
        }
    }

    /// The bytes of the file at `path` ("-": standard input), at most `limit`.
    static func file(_ path: String, limit: Int) throws -> Bytes {
        guard path != "-" else { return try readAll(0, limit: limit, what: "standard input") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            Output.error("cannot open \(path): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        defer { close(fd) }
        return try readAll(fd, limit: limit, what: path)
    }
}
