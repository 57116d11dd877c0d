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
        var bytes: Bytes = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                Output.error("cannot read the value from standard input: \(String(cString: strerror(errno)))")
                throw ExitCode.failure
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > Limits.maxValueSize {
                Output.error("the value on standard input exceeds the limit of \(Limits.maxValueSize) bytes")
                throw ExitCode.failure
            }
        }
    }
}
