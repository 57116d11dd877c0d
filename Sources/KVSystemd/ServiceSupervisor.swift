import CSystemd
import Logging

/// A daemon's conversation with systemd: readiness, status, the watchdog driven by the
/// daemon's own tick, and stopping. Everything is a no-op when the daemon is not run by
/// systemd.
public final class ServiceSupervisor: Sendable {
    public let notifier = SystemdNotifier()
    public let watchdog: WatchdogSettings?
    private let pinger: WatchdogPinger?

    /// Reads the watchdog settings and reports (to `logger`) a tick too slow for them.
    public init(tickMicroseconds: UInt64, logger: Logger) {
        watchdog = WatchdogSettings.fromEnvironment()
        pinger = watchdog.map { WatchdogPinger(settings: $0) }
        if let watchdog, !watchdog.isSatisfied(byTickEvery: tickMicroseconds) {
            let tick = tickMicroseconds / 1000
            let interval = watchdog.intervalMicroseconds / 1000
            logger.error(
                "the tick (\(tick) ms) is slower than half the watchdog interval (\(interval) ms): systemd may end this daemon as hung",
                metadata: [
                    "kv_event": "watchdog-config", "kv_tick_ms": "\(tickMicroseconds / 1000)",
                    "kv_watchdog_ms": "\(watchdog.intervalMicroseconds / 1000)",
                ])
        }
    }

    public func ready(status: String) { notifier.ready(status: status) }
    public func status(_ text: String) { notifier.status(text) }
    public func stopping(status: String) { notifier.stopping(status: status) }

    /// Call from the tick itself, never from a separate timer: a tick that stalls must
    /// stop the pings.
    public func tick(nowMicroseconds: UInt64) { pinger?.tick(nowMicroseconds: nowMicroseconds) }
}
