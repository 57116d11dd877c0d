import KVProtocol
import MonitorCore

/// Runs a `MonitorCore` in an environment: feeds it requests, ticks and the completions
/// of its saves, and carries out its effects (docs/DESIGN.md §7). The daemon runs it over
/// SwiftNIO (saves on a thread pool) and the simulator over its simulated network and
/// store.
///
/// Not thread-safe: everything happens on the environment's one thread.
public final class MonitorDriver<Environment: MonitorEnvironment> {
    public let environment: Environment
    public let measurements: (any MonitorMeasurements)?
    public private(set) var core: MonitorCore
    private let tickInterval: UInt64
    private var pending: [UInt64: Environment.Requester] = [:]
    private var nextToken: UInt64 = 1
    private var ticker: Environment.Timer?
    private var lifecycle = Lifecycle.created

    /// Requests are taken from creation on (the listener may hand them over before the
    /// first tick); ticks run from `start()`; nothing runs after `stop()`.
    private enum Lifecycle {
        case created
        case running
        case stopped
    }

    /// - Parameters:
    ///   - tickInterval: nanoseconds between ticks (the servers' ping interval).
    ///   - restoredView: the view kept by a previous run, if any.
    public init(
        config: MonitorConfig, tickInterval: UInt64, restoredView: View?, environment: Environment,
        measurements: (any MonitorMeasurements)? = nil
    ) {
        self.environment = environment
        self.measurements = measurements
        self.tickInterval = tickInterval
        self.core = MonitorCore(config: config, restoredView: restoredView, now: environment.now / 1_000_000)
    }

    /// Starts ticking, the first tick one interval from now.
    public func start() {
        precondition(lifecycle == .created, "a driver starts once")
        lifecycle = .running
        ticker = environment.scheduleRepeated(initialDelay: tickInterval, every: tickInterval) { [weak self] in
            self?.tick()
        }
    }

    /// A request for the monitor. Returns false, without touching `requester`, for a
    /// message a monitor does not take.
    public func receive(_ message: Message, from requester: Environment.Requester) -> Bool {
        let event: (ReplyToken) -> MonitorEvent
        switch message {
        case .ping(let address, let viewnum, let leaving):
            measurements?.pinged()
            event = { .ping(from: address, viewnum: viewnum, leaving: leaving, $0) }
        case .getView:
            event = { .viewRequest($0) }
        case .listServers:
            event = { .serversRequest($0) }
        case .switchover(let viewnum):
            event = { .switchover(expectedViewnum: viewnum, $0) }
        default:
            return false
        }
        guard lifecycle != .stopped else {
            environment.abandon(requester)
            return true
        }
        let token = nextToken
        nextToken += 1
        pending[token] = requester
        step(event(ReplyToken(token)))
        return true
    }

    private func tick() {
        guard lifecycle == .running else { return }
        step(.tick)
        let now = environment.now / 1_000_000
        if let measurements {
            measurements.update(
                viewnum: core.view.viewnum, acknowledged: core.view.acked,
                liveServers: core.servers(at: now).filter(\.alive).count)
        }
        environment.ticked(core, at: now)
    }

    private func step(_ event: MonitorEvent) {
        let now = environment.now / 1_000_000
        var viewChanged = false
        for effect in core.step(event, at: now) {
            switch effect {
            case .reply(let token, let message):
                guard let requester = pending.removeValue(forKey: token.raw) else { continue }
                environment.respond(to: requester, with: message)
            case .saveView(let view):
                environment.save(view) { [weak self] error in
                    guard let self, self.lifecycle != .stopped else { return }
                    self.step(error.map { .viewNotSaved(view, error: $0) } ?? .viewSaved(view))
                }
            case .notice(let notice):
                environment.log(notice)
                switch notice {
                case .viewChanged:
                    measurements?.viewChanged()
                    viewChanged = true
                case .viewAcknowledged:
                    viewChanged = true
                default:
                    break
                }
            }
        }
        if viewChanged { environment.viewChanged(core, at: now) }
    }

    /// Stops ticking and answering; every request still waiting is abandoned, and a save
    /// in flight completes unseen (whether it landed is for the next run to find).
    public func stop() {
        guard lifecycle != .stopped else { return }
        lifecycle = .stopped
        ticker?.cancel()
        ticker = nil
        let abandoned = pending.values
        pending.removeAll()
        for requester in abandoned { environment.abandon(requester) }
    }
}
