import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// How a command run to completion ended, and what it wrote.
package struct ProcessResult: Sendable {
    /// The exit code, or 128 + the signal that ended it.
    package var status: Int32
    package var stdout: String
    package var stderr: String
    /// Standard output as written (values printed by `kvctl get` need not be UTF-8).
    package var stdoutBytes: [UInt8]
}

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+), which Swift's Glibc module
/// does not declare.
private let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(
        symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

/// Everything one test starts: a private temporary directory and the child processes
/// run from it, every one of them killed in teardown, whatever the outcome. The one way
/// the tests run the built executables and system tools.
package final class TestScratch: @unchecked Sendable {
    package let directory: String
    private let lock = NSLock()
    private var children: [Child] = []
    private var counter = 0

    /// Makes `/tmp/PREFIX-XXXXXX`.
    package init(prefix: String = "kv-tests") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw TestSetupError("mkdtemp: errno \(errno)") }
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    package func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// Starts `executable` with `arguments`; `environment` is added to (and `unset` removed
    /// from) the test's own environment. stdin is `input` (or /dev/null), stdout and
    /// stderr go to files, no other descriptor is inherited, signals are at their
    /// defaults, and the child gets its own process group. With `diesWithTests`, the kernel
    /// kills the child when the test process ends, however it ends (`SpawnThread`); the
    /// child is then started through setpriv(1), which execs it, keeping its pid.
    package func spawn(
        _ name: String, _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        unset: [String] = [], input: [UInt8]? = nil, diesWithTests: Bool = false
    ) throws -> Child {
        var executable = executable
        var arguments = arguments
        if diesWithTests {
            guard let setpriv = Binaries.tool("setpriv") else {
                throw TestSetupError("setpriv (util-linux) is needed to tie \(name) to the test process")
            }
            arguments = ["--pdeathsig", "KILL", "--", executable] + arguments
            executable = setpriv
        }
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

        var stdin = "/dev/null"
        if let input {
            // From a file rather than a pipe: nothing has to feed the child while it runs.
            stdin = path("\(index)-\(name).in")
            guard FileManager.default.createFile(atPath: stdin, contents: Data(input)) else {
                throw TestSetupError("cannot write \(stdin)")
            }
        }
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
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
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
        let result: Int32
        if diesWithTests {
            result = SpawnThread.run { posix_spawn(&pid, executable, &actions, &attributes, argv, envp) }
        } else {
            result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        guard result == 0 else {
            throw POSIXError(
                POSIXErrorCode(rawValue: result) ?? .EIO, userInfo: [NSLocalizedDescriptionKey: executable])
        }
        let child = Child(name: name, pid: pid, stdoutPath: out, stderrPath: err)
        lock.withLock { children.append(child) }
        return child
    }

    /// Runs a short-lived command to completion. One that overruns `timeout` fails the
    /// test and is killed.
    package func run(
        _ name: String, _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        input: [UInt8]? = nil, timeout: Double = 30, file: StaticString = #filePath, line: UInt = #line
    ) async throws -> ProcessResult {
        let child = try spawn(name, executable, arguments, environment: environment, input: input)
        do {
            try await child.waitForExit(within: timeout, file: file, line: line)
        } catch {
            await child.killAndReap()
            throw error
        }
        return ProcessResult(
            status: child.shellStatus, stdout: child.stdout, stderr: child.stderr, stdoutBytes: child.stdoutBytes)
    }

    /// Runs the built `kvctl` to completion (see `run`).
    package func kvctl(
        _ arguments: [String], environment: [String: String] = [:], input: [UInt8]? = nil, timeout: Double = 30,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws -> ProcessResult {
        try await run(
            "kvctl", Binaries.kvctl, arguments, environment: environment, input: input, timeout: timeout, file: file,
            line: line)
    }

    /// Kills every child still running and removes the directory.
    package func tearDown() async {
        let all = lock.withLock { children }
        for child in all { await child.killAndReap() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension XCTestCase {
    /// A scratch area whose children are killed when the test ends, even on failure.
    package func makeScratch() throws -> TestScratch {
        let scratch = try TestScratch()
        addTeardownBlock { await scratch.tearDown() }
        return scratch
    }
}
