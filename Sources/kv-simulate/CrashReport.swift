#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Names the seed when a schedule crashes the process (a failed precondition in a core
/// traps): the line is prepared before each schedule, and a signal handler writes it
/// and then hands the signal back to the previous handler (Swift's backtracer).
enum CrashReport {
    private static let capacity = 256
    nonisolated(unsafe) private static let line = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    nonisolated(unsafe) private static var length = 0
    /// The handlers found at `install`, by signal number (allocated once: the signal
    /// handler itself must not allocate).
    nonisolated(unsafe) private static let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
    private static let signals = [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE]

    static func install() {
        for signal in signals {
            var action = sigaction()
            var old = sigaction()
            #if canImport(Darwin)
                action.__sigaction_u.__sa_handler = handle
            #else
                action.__sigaction_handler.sa_handler = handle
            #endif
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, &old)
            previous[Int(signal)] = old
        }
    }

    /// The line to print should the next schedule crash.
    static func prepare(seed: UInt64, replay: String) {
        let text = Array("\nkv-simulate: seed \(seed) crashed the process\nreplay: \(replay)\n".utf8)
        length = min(text.count, capacity)
        for index in 0..<length { line[index] = text[index] }
    }

    private static let handle: @convention(c) (Int32) -> Void = { number in
        _ = write(2, CrashReport.line, CrashReport.length)
        // Give the signal back: the trapping instruction runs again (or abort raises
        // again) under the previous handler, which prints the backtrace.
        sigaction(number, CrashReport.previous + Int(number), nil)
    }
}
