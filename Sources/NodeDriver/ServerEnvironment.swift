import KVProtocol
import ServerCore

/// What a `ServerDriver` needs from the world: a clock, timers, requests to peers with
/// their answers, and somewhere to send answers and log records. The daemon's is made of
/// SwiftNIO channels and timers (`KVServices`), the simulator's of simulated ones.
///
/// The driver calls it from one thread (or task queue) only, and every callback an
/// environment makes (a completion, a timer) must run there too and never from inside
/// the call that set it up: a callback that ran inside `send` would step the core while
/// the driver is still carrying out the effects of the step before.
public protocol ServerEnvironment: AnyObject {
    /// Where one answer goes: a connection and a request id, a caller waiting in-process,
    /// a simulated exchange.
    associatedtype Requester
    associatedtype Timer: DriverTimer

    /// Monotonic time in nanoseconds.
    var now: UInt64 { get }

    /// The wall clock, Unix time in milliseconds: what keys' deadlines are set and
    /// checked against (docs/DESIGN.md §3.13).
    var wallClockMillis: UInt64 { get }

    /// Nanoseconds on a clock that keeps counting while the machine is suspended
    /// (`CLOCK_BOOTTIME`; a suspended machine's `CLOCK_MONOTONIC` stops): what read leases
    /// are measured on (docs/DESIGN.md §3.14).
    var leaseClock: UInt64 { get }

    /// Sends `message` to `peer` and calls `completion` with its answer, or with why the
    /// transport gave up: `unreachable` when nothing accepts connections there (refused,
    /// no route), `noAnswer` otherwise (connection lost, no answer in `timeout`
    /// nanoseconds).
    func send(
        _ message: Message, to peer: Peer, timeout: UInt64,
        completion: @escaping (Result<Message, PeerFailure>) -> Void)

    /// Answers a request received from `requester`.
    func respond(to requester: Requester, with message: Message)

    /// The request of `requester` will get no answer: the server is stopping.
    func abandon(_ requester: Requester)

    /// Runs `action` once after `delay` nanoseconds.
    func schedule(after delay: UInt64, _ action: @escaping () -> Void) -> Timer

    /// Runs `action` after `initialDelay` nanoseconds and then every `interval`.
    func scheduleRepeated(initialDelay: UInt64, every interval: UInt64, _ action: @escaping () -> Void) -> Timer

    /// A core notice, for the log; `durationNanos` is how long a completed transfer took.
    func log(_ notice: ServerNotice, durationNanos: UInt64?)

    /// The view, role or serving state may have changed (for a status line).
    func statusChanged(_ core: ServerCore)

    /// A tick was carried out (the systemd watchdog is fed from here, so a stuck tick
    /// stops it).
    func ticked(_ core: ServerCore)
}
