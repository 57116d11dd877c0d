#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// CLOCK_REALTIME in Unix milliseconds: what keys' deadlines are measured in (a
/// deadline is absolute, so it means the same on the backup that may one day serve it).
public enum WallClock {
    public static func millis() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(max(0, time.tv_sec)) * 1_000 + UInt64(max(0, time.tv_nsec)) / 1_000_000
    }
}

/// CLOCK_BOOTTIME in nanoseconds: what read leases are measured on. Unlike
/// CLOCK_MONOTONIC it keeps counting while the machine is suspended, so a lease never
/// seems to last longer than it did.
public enum LeaseClock {
    public static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return UInt64(max(0, time.tv_sec)) * 1_000_000_000 + UInt64(max(0, time.tv_nsec))
    }
}
