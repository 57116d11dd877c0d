import NIOCore

/// A time for error messages ("1000 ms"): TimeAmount describes itself in nanoseconds.
func milliseconds(_ time: TimeAmount) -> String { "\(time.nanoseconds / 1_000_000) ms" }
