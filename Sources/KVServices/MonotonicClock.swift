import NIOCore

/// Milliseconds from a monotonic clock: the time the runtimes pass into the cores.
enum MonotonicClock {
    static func nowMillis() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds / 1_000_000
    }

    static func nowNanos() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds
    }
}
