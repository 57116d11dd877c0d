import CSystemd

/// The service manager's watchdog (`WatchdogSec=`), as `sd_watchdog_enabled(3)` reports
/// it: the daemon must send WATCHDOG=1 at least every `interval/2`.
public struct WatchdogSettings: Sendable, Equatable {
    public var intervalMicroseconds: UInt64

    /// The watchdog asked of this process, or nil when none is (or `WATCHDOG_PID`
    /// names another process).
    public static func fromEnvironment() -> WatchdogSettings? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return WatchdogSettings(intervalMicroseconds: usec)
    }

    /// The longest gap allowed between two pings.
    public var deadlineMicroseconds: UInt64 { intervalMicroseconds / 2 }

    /// Whether a loop ticking every `tickMicroseconds` pings often enough.
    public func isSatisfied(byTickEvery tickMicroseconds: UInt64) -> Bool {
        tickMicroseconds <= deadlineMicroseconds
    }
}

/// Sends WATCHDOG=1 from the daemon's tick, at most every `interval/4`: so a stalled
/// tick (a frozen process, a loop hogged by a long state transfer) stops the pings and
/// systemd ends the process.
public final class WatchdogPinger: @unchecked Sendable {
    // Used only from the tick's event loop.
    private let settings: WatchdogSettings
    private let notifier: SystemdNotifier
    private var lastPingMicroseconds: UInt64?

    public init(settings: WatchdogSettings, notifier: SystemdNotifier = SystemdNotifier()) {
        self.settings = settings
        self.notifier = notifier
    }

    /// Called on every tick with a monotonic clock reading.
    public func tick(nowMicroseconds: UInt64) {
        if let last = lastPingMicroseconds, nowMicroseconds &- last < settings.intervalMicroseconds / 4 { return }
        lastPingMicroseconds = nowMicroseconds
        notifier.watchdog()
    }
}
