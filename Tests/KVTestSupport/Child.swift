import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A child process started by `TestScratch.spawn`, whose output goes to files, so it can
/// be read at any moment and a chatty child can never block on a full pipe.
///
/// Reaped with waitpid(WNOHANG) by the test itself, not with Foundation's Process:
/// Process notices a child's exit through a socket inherited by the child and then calls
/// a *blocking* waitpid on its single manager thread. systemd-socket-activate closes that
/// inherited socket at start while its pid lives on (it execs the daemon), which blocked
/// that thread and left every other child unreaped.
package final class Child: @unchecked Sendable {
    package let name: String
    package let pid: pid_t
    package let stdoutPath: String
    package let stderrPath: String
    private let lock = NSLock()
    private var waitStatus: Int32?

    init(name: String, pid: pid_t, stdoutPath: String, stderrPath: String) {
        self.name = name
        self.pid = pid
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    /// Reaps the child if it has exited (never blocks). Stops are not exits.
    package var isRunning: Bool {
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
    package var exitCode: Int32? {
        guard !isRunning, let status = lock.withLock({ waitStatus }), status >= 0, status & 0x7f == 0 else {
            return nil
        }
        return (status >> 8) & 0xff
    }

    /// The signal that ended the child, if one did.
    package var terminatingSignal: Int32? {
        guard !isRunning, let status = lock.withLock({ waitStatus }), status >= 0 else { return nil }
        let signal = status & 0x7f
        return signal != 0 && signal != 0x7f ? signal : nil
    }

    /// A shell-style status: the exit code, or 128 + the signal.
    package var shellStatus: Int32 { exitCode ?? terminatingSignal.map { 128 + $0 } ?? -1 }

    package var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    package var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    /// Standard output as written, for output that need not be UTF-8.
    package var stdoutBytes: [UInt8] { (FileManager.default.contents(atPath: stdoutPath)).map { [UInt8]($0) } ?? [] }

    package func signal(_ signal: Int32) { if isRunning { kill(pid, signal) } }

    /// Waits until the child has exited; fails the test (and throws) after `seconds`.
    package func waitForExit(
        within seconds: Double, file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        try await waitUntil(
            "\(name) (pid \(pid)) exits", timeout: seconds, detail: { self.outputSummary }, file: file, line: line
        ) { !isRunning }
    }

    /// The child's state letter in /proc/PID/stat ("R", "S", "T" for stopped, ...).
    package var procState: String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    /// Whether the child has a handler for `signal` or ignores it (/proc/PID/status
    /// SigCgt/SigIgn), i.e. whether it no longer dies of it by the default action.
    package func handlesSignal(_ signal: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        let bit = UInt64(1) << UInt64(signal - 1)
        return status.split(separator: "\n").contains { line in
            guard line.hasPrefix("SigCgt:") || line.hasPrefix("SigIgn:") else { return false }
            let mask = UInt64(line.split(separator: "\t").last.map(String.init) ?? "", radix: 16) ?? 0
            return mask & bit != 0
        }
    }

    /// Kills the child (SIGCONT too, in case a test stopped it) and reaps it; fails the
    /// test if it survives.
    package func killAndReap() async {
        if isRunning {
            kill(pid, SIGKILL)
            kill(pid, SIGCONT)
        }
        try? await waitForExit(within: 10)
    }

    package var outputSummary: String {
        "--- \(name) stderr ---\n\(stderr.suffix(4000))\n--- \(name) stdout ---\n\(stdout.suffix(2000))"
    }
}
