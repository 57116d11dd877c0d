import CSystemd
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A daemon's conversation with systemd: readiness, status, the watchdog driven by the
/// daemon's own tick, and stopping. Everything is a no-op when the daemon is not run by
/// systemd.
public final class ServiceSupervisor: Sendable {
    public let notifier = SystemdNotifier()
    public let watchdog: WatchdogSettings?
    private let pinger: WatchdogPinger?
    private let gate: StatusGate

    /// Reads the watchdog settings and reports (to `logger`) a tick too slow for them.
    public init(tickMicroseconds: UInt64, logger: Logger) {
        watchdog = WatchdogSettings.fromEnvironment()
        pinger = watchdog.map { WatchdogPinger(settings: $0) }
        gate = StatusGate(notifier: notifier)
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

    public func ready(status: String) { gate.ready(status: status) }
    public func status(_ text: String) { gate.status(text) }
    public func stopping(status: String) { gate.stopping(status: status) }

    /// Call from the tick itself, never from a separate timer: a tick that stalls must
    /// stop the pings.
    public func tick(nowMicroseconds: UInt64) { pinger?.tick(nowMicroseconds: nowMicroseconds) }
}

/// Orders STATUS= lines against READY=1 and STOPPING=1. The daemons' loops report status
/// changes from the moment they start, while READY=1 carries a line computed a moment
/// earlier by the starting task; unordered, the manager would get the same line twice in
/// a row, or keep showing a stale one until the next change. So every line goes out under
/// one lock: READY=1 carries its line only if no STATUS= was sent before it, a line equal
/// to the last one is not resent, and after STOPPING=1 the loops' lines do not replace
/// the stopping status.
final class StatusGate: @unchecked Sendable {
    private let notifier: SystemdNotifier
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    // Guarded by `mutex`.
    private var last: String?
    private var isStopping = false

    init(notifier: SystemdNotifier) {
        self.notifier = notifier
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private func locked(_ body: () -> Void) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        body()
    }

    func ready(status text: String) {
        locked {
            if last == nil {
                last = SystemdNotifier.oneLine(text)
                notifier.ready(status: text)
            } else {
                notifier.notify("READY=1")
            }
        }
    }

    func status(_ text: String) {
        locked {
            let line = SystemdNotifier.oneLine(text)
            guard !isStopping, line != last else { return }
            last = line
            notifier.status(text)
        }
    }

    /// STOPPING=1 once; a later call only updates the status (a stop has phases).
    func stopping(status text: String) {
        locked {
            let line = SystemdNotifier.oneLine(text)
            if isStopping {
                guard line != last else { return }
                notifier.status(text)
            } else {
                isStopping = true
                notifier.stopping(status: text)
            }
            last = line
        }
    }
}
