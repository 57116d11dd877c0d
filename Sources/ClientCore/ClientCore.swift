import KVProtocol

/// A client session's decisions as a deterministic state machine (docs/DESIGN.md §4.1): which
/// server to ask, when to ask the monitor for the view, when to retry and when to give up.
///
/// `KVClient` runs it over TCP and the simulator over a simulated network, so both follow
/// the same rules:
/// - the view is cached and fetched only when needed: before the first request, and
///   after a failed attempt, a timeout or a `wrong server` answer;
/// - of several monitors, the view is asked of the one that last answered; one that
///   fails or is not the leader costs no pause: the next (or the leader it names) is
///   asked at once, and the session pauses only once every monitor has missed in a row
///   (`MonitorRotation`, docs/DESIGN.md §4.3);
/// - an operation keeps its sequence number across retries, so the servers' duplicate
///   table applies an update at most once;
/// - between attempts the session pauses one retry interval;
/// - at the deadline the operation ends with `timedOut`, its effect unknown.
///
/// Nothing here reads a clock or does I/O: time arrives with each call.
public struct ClientCore: Sendable {
    private enum Phase: Equatable {
        case askingMonitor(String)
        case sending(to: String)
        case pausing
    }

    private struct OperationInFlight {
        let request: ClientRequest
        let deadline: UInt64?
        var attempt: UInt64
        var phase: Phase
        var lastProblem = "no attempt made"
    }

    public let clientID: UInt64
    public let config: ClientConfig
    /// The view this session believes in; nil when it must ask the monitor.
    public private(set) var view: View?
    /// Which monitor to ask for the view.
    public private(set) var monitors: MonitorRotation
    /// The sequence number of the latest operation.
    public private(set) var seq: UInt64 = 0
    private var operation: OperationInFlight?
    private var lastAttempt: UInt64 = 0

    /// - Parameter monitors: the monitors' addresses, at least one.
    public init(clientID: UInt64, config: ClientConfig, monitors: [String]) {
        self.clientID = clientID
        self.config = config
        self.monitors = MonitorRotation(monitors)
    }

    /// Whether an operation is in progress.
    public var isBusy: Bool { operation != nil }

    /// Begins an operation under the next sequence number. One at a time per session.
    public mutating func start(
        _ op: Operation, key: Bytes, value: Bytes = [], deadline: UInt64?, at now: UInt64
    ) -> ClientEffect {
        start(ClientRequest(op: op, clientID: clientID, seq: seq + 1, key: key, value: value), deadline, now)
    }

    /// Begins a transaction under the next sequence number, as `start(_:key:value:deadline:at:)`.
    public mutating func start(_ txn: Txn, deadline: UInt64?, at now: UInt64) -> ClientEffect {
        start(ClientRequest(txn: txn, clientID: clientID, seq: seq + 1), deadline, now)
    }

    private mutating func start(_ request: ClientRequest, _ deadline: UInt64?, _ now: UInt64) -> ClientEffect {
        precondition(operation == nil, "a client session runs one operation at a time")
        seq = request.seq
        operation = OperationInFlight(request: request, deadline: deadline, attempt: 0, phase: .pausing)
        return attempt(at: now)
    }

    /// Feeds what happened; returns the next step, or nil when the event belongs to no
    /// attempt in progress (a late answer) and changes nothing.
    public mutating func handle(_ event: ClientEvent, at now: UInt64) -> ClientEffect? {
        guard var current = operation else { return nil }
        switch event {
        case .viewReceived(let attempt, let view):
            guard attempt == current.attempt, case .askingMonitor = current.phase else { return nil }
            monitors.answered()
            guard !view.primary.isEmpty else {
                self.view = nil
                current.lastProblem = "the monitor has no primary"
                return pause(current, at: now)
            }
            self.view = view
            return send(current, to: view.primary, at: now)
        case .replyReceived(let attempt, let reply):
            guard attempt == current.attempt, case .sending(let address) = current.phase else { return nil }
            switch reply.status {
            case .ok, .noKey:
                operation = nil
                return .complete(reply)
            case .invalid:
                operation = nil
                return .fail(.invalid(reply.value.utf8String))
            case .staleRequest:
                operation = nil
                return .fail(.staleRequest)
            case .wrongServer:
                view = nil
                current.lastProblem = "\(address) is not the primary"
            case .retryLater:
                current.lastProblem = "\(address) asked to retry later"
            }
            return pause(current, at: now)
        case .notLeader(let attempt, let leader):
            guard attempt == current.attempt, case .askingMonitor(let monitor) = current.phase else { return nil }
            current.lastProblem =
                "monitor \(monitor) is not the leader"
                + (leader.isEmpty ? " and knows none" : " (it names \(leader))")
            return monitorMissed(current, endsPass: monitors.redirected(to: leader), at: now)
        case .attemptFailed(let attempt, let problem):
            guard attempt == current.attempt, current.phase != .pausing else { return nil }
            view = nil
            if case .askingMonitor(let monitor) = current.phase {
                current.lastProblem = "monitor \(monitor): \(problem)"
                return monitorMissed(current, endsPass: monitors.failed(), at: now)
            }
            current.lastProblem = problem
            return pause(current, at: now)
        case .pauseEnded:
            guard current.phase == .pausing else { return nil }
            return attempt(at: now)
        }
    }

    /// The runtime stopped the operation without an outcome (the caller was cancelled,
    /// or the runtime itself failed); the session may start another.
    public mutating func abandon() {
        operation = nil
    }

    /// The next attempt, or the end of the operation at its deadline.
    private mutating func attempt(at now: UInt64) -> ClientEffect {
        var current = operation!
        if let deadline = current.deadline, now >= deadline {
            operation = nil
            return .fail(.timedOut(lastProblem: current.lastProblem))
        }
        lastAttempt += 1
        current.attempt = lastAttempt
        guard let view else {
            current.phase = .askingMonitor(monitors.current)
            operation = current
            return .askMonitor(monitors.current, attempt: current.attempt, timeout: attemptTimeout(current, at: now))
        }
        return send(current, to: view.primary, at: now)
    }

    /// A monitor failed or sent the session elsewhere: the next one at once, or a pause
    /// once every monitor has missed in a row (`endsPass`).
    private mutating func monitorMissed(_ current: OperationInFlight, endsPass: Bool, at now: UInt64)
        -> ClientEffect
    {
        if endsPass { return pause(current, at: now) }
        operation = current
        return attempt(at: now)
    }

    private mutating func send(_ current: OperationInFlight, to address: String, at now: UInt64) -> ClientEffect {
        var current = current
        current.phase = .sending(to: address)
        operation = current
        return .send(current.request, to: address, attempt: current.attempt, timeout: attemptTimeout(current, at: now))
    }

    private mutating func pause(_ current: OperationInFlight, at now: UInt64) -> ClientEffect {
        var current = current
        current.phase = .pausing
        operation = current
        var duration = config.retryInterval
        if let deadline = current.deadline { duration = min(duration, deadline > now ? deadline - now : 0) }
        return .pause(duration)
    }

    /// One attempt may wait the attempt timeout, but not past the deadline (and not less
    /// than the minimum, or an attempt close to the deadline could never succeed).
    private func attemptTimeout(_ current: OperationInFlight, at now: UInt64) -> UInt64 {
        guard let deadline = current.deadline else { return config.attemptTimeout }
        let remaining = deadline > now ? deadline - now : 0
        return max(config.minimumAttemptTimeout, min(config.attemptTimeout, remaining))
    }
}
