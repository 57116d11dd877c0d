import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The built executables (kv-monitor, kv-server, kvctl) sit next to the test bundle in
/// the build directory, as in Tests/KVCtlTests/KVCtlProcess.swift.
enum Binaries {
    static var directory: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !directory.path.hasSuffix(".xctest") && directory.path != "/" {
            if FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("kvctl").path) { break }
            directory.deleteLastPathComponent()
        }
        if directory.path.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.standardizedFileURL
    }

    static var monitor: String { directory.appendingPathComponent("kv-monitor").path }
    static var server: String { directory.appendingPathComponent("kv-server").path }
    static var kvctl: String { directory.appendingPathComponent("kvctl").path }

    /// The test bundle's executable (Linux: `NAME.xctest` is itself an executable), used
    /// to run one helper test inside a private namespace.
    static var testBundle: String {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        while !url.path.hasSuffix(".xctest") && url.path != "/" { url.deleteLastPathComponent() }
        return url.path
    }

    /// Locates a system tool, or nil.
    static func tool(_ name: String) -> String? {
        for directory in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/lib/systemd", "/usr/lib/systemd"] {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

/// Polls `condition` every `poll` seconds until it holds or `seconds` have passed.
/// Returns whether it held. Never a bare sleep: the wait ends as soon as it holds.
@discardableResult
func waitUntil(_ seconds: Double, poll: Double = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: poll)
    }
}

/// A child process whose output goes to files, so it can be read at any moment and a
/// chatty child can never block on a full pipe.
///
/// Started with posix_spawn and reaped with waitpid(WNOHANG) by the test itself, not with
/// Foundation's Process: Process notices a child's exit through a socket inherited by
/// the child and then calls a *blocking* waitpid on its single manager thread.
/// systemd-socket-activate closes that inherited socket at start while its pid lives on
/// (it execs the daemon), which blocked that thread and left every other child unreaped.
final class Child: @unchecked Sendable {
    let name: String
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private let lock = NSLock()
    private var waitStatus: Int32?

    init(name: String, pid: pid_t, stdoutPath: String, stderrPath: String) {
        self.name = name
        self.pid = pid
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    /// Reaps the child if it has exited (never blocks). Stops are not exits.
    var isRunning: Bool {
        lock.withLock {
            if waitStatus != nil { return false }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                waitStatus = status
                return false
            }
            if result < 0 && errno == ECHILD {
                waitStatus = -1
                return false
            }
            return true
        }
    }

    /// The exit status, once the child has exited normally.
    var exitCode: Int32? {
        guard !isRunning, let status = lock.withLock({ waitStatus }), status >= 0, status & 0x7f == 0 else {
            return nil
        }
        return (status >> 8) & 0xff
    }

    /// The signal that ended the child, if one did.
    var terminatingSignal: Int32? {
        guard !isRunning, let status = lock.withLock({ waitStatus }), status >= 0 else { return nil }
        let signal = status & 0x7f
        return signal != 0 && signal != 0x7f ? signal : nil
    }

    /// A shell-style status: the exit code, or 128 + the signal.
    var shellStatus: Int32 { exitCode ?? terminatingSignal.map { 128 + $0 } ?? -1 }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { if isRunning { kill(pid, signal) } }

    /// Waits (bounded) for the child to exit; true if it did.
    @discardableResult
    func waitForExit(within seconds: Double) -> Bool {
        waitUntil(seconds, poll: 0.01) { !isRunning }
    }

    /// The child's state letter in /proc/PID/stat ("R", "S", "T" for stopped, ...).
    var procState: String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    /// Whether the child has a handler for `signal` or ignores it (/proc/PID/status
    /// SigCgt/SigIgn), i.e. whether it no longer dies of it by the default action.
    func handlesSignal(_ signal: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        let bit = UInt64(1) << UInt64(signal - 1)
        return status.split(separator: "\n").contains { line in
            guard line.hasPrefix("SigCgt:") || line.hasPrefix("SigIgn:") else { return false }
            let mask = UInt64(line.split(separator: "\t").last.map(String.init) ?? "", radix: 16) ?? 0
            return mask & bit != 0
        }
    }

    /// Kills the child (SIGCONT too, in case a test stopped it) and reaps it.
    func killAndReap() {
        if isRunning {
            kill(pid, SIGKILL)
            kill(pid, SIGCONT)
        }
        if !waitForExit(within: 10) { XCTFail("\(name) (pid \(pid)) survived SIGKILL") }
    }

    var outputSummary: String {
        "--- \(name) stderr ---\n\(stderr.suffix(4000))\n--- \(name) stdout ---\n\(stdout.suffix(2000))"
    }
}

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+), which Swift's Glibc module
/// does not declare.
private let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(
        symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

/// Everything one test starts: a private temporary directory and its child processes,
/// every one of them killed in teardown, whatever the outcome.
final class TestScratch: @unchecked Sendable {
    let directory: String
    private let lock = NSLock()
    private var children: [Child] = []
    private var counter = 0

    init() {
        var template = Array("/tmp/kvsd-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// Starts `executable` with `arguments`; `environment` is added to (and `unset` removed
    /// from) the test's own environment. stdin is /dev/null, stdout and stderr go to
    /// files, no other descriptor is inherited, signals are at their defaults, and the
    /// child gets its own process group.
    func spawn(
        _ name: String, _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        unset: [String] = []
    ) throws -> Child {
        let index = lock.withLock { () -> Int in
            counter += 1
            return counter
        }
        var env = ProcessInfo.processInfo.environment
        // Nothing the test runner itself may carry must leak into a daemon.
        for key in [
            "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
            "JOURNAL_STREAM", "KV_MONITOR", "STATE_DIRECTORY",
        ] { env[key] = nil }
        env["SWIFT_BACKTRACE"] = "enable=no"
        for key in unset { env[key] = nil }
        for (key, value) in environment { env[key] = value }

        let out = path("\(index)-\(name).out")
        let err = path("\(index)-\(name).err")
        let outFD = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let errFD = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer {
            close(outFD)
            close(errFD)
        }
        guard outFD >= 0, errFD >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outFD, 1)
        posix_spawn_file_actions_adddup2(&actions, errFD, 2)
        if let addCloseFrom { _ = addCloseFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw POSIXError(
                POSIXErrorCode(rawValue: result) ?? .EIO, userInfo: [NSLocalizedDescriptionKey: executable])
        }
        let child = Child(name: name, pid: pid, stdoutPath: out, stderrPath: err)
        lock.withLock { children.append(child) }
        return child
    }

    /// Runs a short-lived command to completion (bounded), killing it if it overruns.
    func run(
        _ name: String, _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        timeout: Double = 30
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try spawn(name, executable, arguments, environment: environment)
        if !child.waitForExit(within: timeout) {
            XCTFail("\(name) \(arguments) did not finish within \(timeout) s\n\(child.outputSummary)")
            child.killAndReap()
        }
        return (child.shellStatus, child.stdout, child.stderr)
    }

    func kvctl(_ arguments: [String], timeout: Double = 30) throws -> (status: Int32, stdout: String, stderr: String) {
        try run("kvctl", Binaries.kvctl, arguments, timeout: timeout)
    }

    /// Kills every child still running and removes the directory.
    func tearDown() {
        let all = lock.withLock { children }
        for child in all { child.killAndReap() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension XCTestCase {
    /// A scratch area whose children are killed when the test ends, even on failure.
    func makeScratch() -> TestScratch {
        let scratch = TestScratch()
        addTeardownBlock { scratch.tearDown() }
        return scratch
    }
}

// MARK: - Loopback ports

enum Loopback {
    /// A port that was free a moment ago (bind to port 0, read it back, close).
    static func freePort(udp: Bool = false) -> Int {
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(bound == 0, "bind: \(errno)")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    /// Opens a TCP connection to 127.0.0.1:port; returns the fd or nil if refused.
    static func connectTCP(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = Loopback.address(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            close(fd)
            return nil
        }
        return fd
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port right now.
    static func accepts(port: Int) -> Bool {
        guard let fd = connectTCP(port: port) else { return false }
        close(fd)
        return true
    }

    /// Whether 127.0.0.1:port is in LISTEN state, read from /proc/net/tcp without
    /// connecting (a connection would trigger socket activation).
    static func isListening(port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return false }
        let wanted = String(format: "0100007F:%04X", port)
        return table.split(separator: "\n").contains { line in
            let columns = line.split(separator: " ")
            return columns.count > 3 && columns[1] == wanted && columns[3] == "0A"
        }
    }

    /// Whether a UDP socket is bound on 127.0.0.1:port (/proc/net/udp).
    static func isBoundUDP(port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/udp", encoding: .utf8) else { return false }
        let wanted = String(format: "0100007F:%04X", port)
        return table.split(separator: "\n").contains { line in
            let columns = line.split(separator: " ")
            return columns.count > 1 && columns[1] == wanted
        }
    }

    static func sendUDP(port: Int, _ text: String) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = Loopback.address(port: port)
        let bytes = Array(text.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
}

/// A TCP listener that accepts connections and reads from them but never answers: a
/// monitor that is "running" but silent, to observe a server's first ping attempt.
final class SilentListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var _accepted = 0
    private var _bytes = 0
    private var connections: [Int32] = []
    private var stopped = false

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = Loopback.address(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in loop() }
        thread.start()
    }

    var accepted: Int { lock.withLock { _accepted } }
    var bytesReceived: Int { lock.withLock { _bytes } }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !lock.withLock({ stopped }) {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            fds += lock.withLock { connections }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 50) > 0 else { continue }
            if fds[0].revents != 0 {
                let connection = accept(fd, nil, nil)
                if connection >= 0 {
                    lock.withLock {
                        _accepted += 1
                        connections.append(connection)
                    }
                }
            }
            for entry in fds.dropFirst() where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                lock.withLock {
                    if count > 0 {
                        _bytes += count
                    } else {
                        connections.removeAll { $0 == entry.fd }
                        close(entry.fd)
                    }
                }
            }
        }
        lock.withLock {
            for connection in connections { close(connection) }
            connections = []
        }
        close(fd)
    }

    func stop() { lock.withLock { stopped = true } }
}
