import KVCheck

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `kv-history-check [--budget STEPS] [--statistics] FILE`: checks a history saved by a
/// chaos run (see `HistoryFile`) for linearizability; `--statistics` adds, on standard
/// error, what the costliest key's search took (steps, memo entries and bytes), to size
/// runs by. Exit status 0 linearizable, 1 not linearizable, 2 no verdict within the
/// budget, 3 unusable input.
@main
struct HistoryCheckCommand {
    static let usage =
        "usage: kv-history-check [--budget STEPS] [--statistics] FILE   (FILE - reads standard input)"

    static func main() {
        var checker = LinearizabilityChecker()
        var path: String?
        var showStatistics = false
        var arguments = CommandLine.arguments.dropFirst()
        while let argument = arguments.popFirst() {
            switch argument {
            case "--budget":
                guard let steps = arguments.popFirst().flatMap({ Int($0) }), steps > 0 else { fail(usage) }
                checker.stepBudgetPerKey = steps
            case "--statistics":
                showStatistics = true
            case "-h", "--help":
                print(usage)
                exit(0)
            default:
                guard path == nil else { fail(usage) }
                path = argument
            }
        }
        guard let path else { fail(usage) }
        guard let contents = readAll(path) else { fail("kv-history-check: cannot read \(path)") }
        let history: [HistoryOperation]
        do {
            history = try HistoryFile.decode(String(decoding: contents, as: UTF8.self))
        } catch {
            fail("kv-history-check: \(path): \(error)")
        }
        var statistics: [[UInt8]: SearchStatistics] = [:]
        let result = checker.check(history, statistics: &statistics)
        print("\(history.count) operations: \(result)")
        if showStatistics, let (key, cost) = statistics.max(by: { $0.value.memoBytes < $1.value.memoBytes }) {
            report(
                "costliest key \(hex(key)): \(cost.operations) operations, \(cost.steps) steps, "
                    + "\(cost.memoEntries) memo entries, \(cost.memoBytes) memo bytes")
        }
        switch result {
        case .linearizable: exit(0)
        case .notLinearizable: exit(1)
        case .timedOut: exit(2)
        case .invalidHistory: exit(3)
        }
    }

    static func fail(_ message: String) -> Never {
        report(message)
        exit(3)
    }

    /// A key as the history file writes it.
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    static func report(_ message: String) {
        // C's `stderr` is a shared mutable global that Swift 6 refuses; fd 2 is not.
        let bytes = Array((message + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// The whole file (or standard input for "-"), or nil if it cannot be read.
    static func readAll(_ path: String) -> [UInt8]? {
        let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return contents }
            contents += chunk[0..<count]
        }
    }
}
