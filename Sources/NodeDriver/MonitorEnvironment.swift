import KVProtocol
import MonitorCore

/// What a `MonitorDriver` needs from the world: a clock, a tick timer, a place to keep
/// the view, and somewhere to send answers and log records. As for `ServerEnvironment`,
/// every callback runs on the driver's one thread and never inside the call that set it
/// up.
public protocol MonitorEnvironment: AnyObject {
    associatedtype Requester
    associatedtype Timer: DriverTimer

    /// Monotonic time in nanoseconds.
    var now: UInt64 { get }

    /// Makes `view` durable (so that a restarted monitor continues from it) and then calls
    /// `completion` with nil, or with what went wrong.
    func save(_ view: View, completion: @escaping (String?) -> Void)

    func respond(to requester: Requester, with message: Message)

    /// The request of `requester` will get no answer: the monitor is stopping.
    func abandon(_ requester: Requester)

    /// Runs `action` after `initialDelay` nanoseconds and then every `interval`.
    func scheduleRepeated(initialDelay: UInt64, every interval: UInt64, _ action: @escaping () -> Void) -> Timer

    func log(_ notice: MonitorNotice)

    func log(_ notice: ElectionNotice)

    /// `view`, read from the state directory at start, is now in etcd: the file must not
    /// be imported again.
    func imported(_ view: View)

    /// A new view (or its acknowledgement) is in force, or the monitor's part changed.
    func viewChanged(_ report: MonitorReport)

    /// A tick was carried out (the systemd watchdog is fed from here).
    func ticked(_ report: MonitorReport)
}

/// Where a `MonitorDriver` reports what it counts (Prometheus metrics in the daemon).
public protocol MonitorMeasurements: AnyObject {
    func pinged()
    func viewChanged()
    /// At every tick: the monitor's part, its view, whether its store answers.
    func update(_ status: MonitorStatus, liveServers: Int)
}
