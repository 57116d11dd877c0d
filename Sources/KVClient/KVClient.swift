import ClientCore
import KVProtocol
import KVTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A client session of kvservice: finds the primary through the monitor, retries until
/// it gets an answer (or the deadline passes), and makes updates at-most-once with a
/// random client id and increasing sequence numbers.
///
/// It asks the monitor for the view only when it must: before the first request, and
/// after a failure, a timeout or a `wrong server` answer. Between retries it sleeps one
/// ping interval. Operations of one session run one at a time. Those decisions are
/// `ClientCore`'s (the simulator runs the same core); this class carries them out.
///
/// With several monitors, each request goes to one of them (`MonitorRotation`,
/// docs/DESIGN.md §4.3): one that does not answer or is not the leader sends the request
/// to the next (or to the leader it names) at once; the pause comes only once every
/// monitor has missed in a row.
public final class KVClient: Sendable {
    public struct Configuration: Sendable {
        /// The monitors' addresses (HOST:PORT), at least one.
        public var monitors: [String]
        /// The monitor's ping interval: the pause between retries.
        public var retryInterval: TimeAmount = .milliseconds(100)
        /// How long one attempt waits for a server's answer.
        public var attemptTimeout: TimeAmount = .seconds(1)
        /// The shared secret, when the service requires one.
        public var secret: SharedSecret?
        /// TLS to the monitors and servers (module KVTLS's `TLSLayer`); nil: plain TCP.
        public var tls: (any ConnectionSecurity)?
        /// Connections shared with other sessions (one per server address); nil: this
        /// session opens its own.
        public var connectionPool: KVConnectionPool?
        /// Told what went wrong each time an attempt fails and the client tries again
        /// ("monitor 127.0.0.1:7100: connection refused"): a front end that would
        /// otherwise wait in silence shows it (kvctl on a terminal). Called on any thread.
        public var onRetry: (@Sendable (String) -> Void)?

        public init(monitors: [String]) {
            self.monitors = monitors
        }

        /// A service with one monitor.
        public init(monitor: String) {
            self.init(monitors: [monitor])
        }
    }

    private struct State {
        var core: ClientCore
        /// Which monitor the admin requests (`view`, `servers`, `switchover`) go to: apart
        /// from the core's, as they do not wait for a data operation to end.
        var adminMonitors: MonitorRotation
        var connections: [String: KVConnection] = [:]
    }

    public let configuration: Configuration
    public let clientID: UInt64
    private let group: any EventLoopGroup
    private let state: NIOLockedValueBox<State>
    private let gate = SessionGate()

    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        var generator = SystemRandomNumberGenerator()
        self.clientID = generator.next()
        let timing = ClientConfig(
            retryInterval: Self.nanoseconds(configuration.retryInterval),
            attemptTimeout: Self.nanoseconds(configuration.attemptTimeout),
            minimumAttemptTimeout: Self.nanoseconds(.milliseconds(1)))
        // No monitor at all: the one named "" fails every request as a bad address.
        let monitors = configuration.monitors.isEmpty ? [""] : configuration.monitors
        self.state = NIOLockedValueBox(
            State(
                core: ClientCore(clientID: clientID, config: timing, monitors: monitors),
                adminMonitors: MonitorRotation(monitors)))
    }

    public convenience init(monitor: String) {
        self.init(configuration: Configuration(monitor: monitor))
    }

    // MARK: - Data operations

    /// The value of `key`, or nil if it does not exist.
    public func get(_ key: Bytes, deadline: NIODeadline? = nil) async throws -> Bytes? {
        let reply = try await perform(.get, key, [], deadline: deadline)
        return reply.status == .noKey ? nil : reply.value
    }

    public func put(_ key: Bytes, _ value: Bytes, deadline: NIODeadline? = nil) async throws {
        _ = try await perform(.put, key, value, deadline: deadline)
    }

    /// Stores hash(previous + value) and returns the previous value ("" if none).
    public func putHash(_ key: Bytes, _ value: Bytes, deadline: NIODeadline? = nil) async throws -> Bytes {
        try await perform(.putHash, key, value, deadline: deadline).value
    }

    /// Deletes `key`; returns whether it existed.
    @discardableResult
    public func delete(_ key: Bytes, deadline: NIODeadline? = nil) async throws -> Bool {
        try await perform(.delete, key, [], deadline: deadline).status == .ok
    }

    // MARK: - Monitor queries

    /// The monitor's current view, fetched now.
    public func view(deadline: NIODeadline? = nil) async throws -> View {
        let reply = try await askMonitor(.getView, deadline: deadline)
        guard case .viewReply(let view) = reply else { throw TransportError.unexpectedReply("\(reply.typeCode)") }
        return view
    }

    /// Every server the monitor knows, with the current view.
    public func servers(deadline: NIODeadline? = nil) async throws -> (view: View, servers: [ServerInfo]) {
        let reply = try await askMonitor(.listServers, deadline: deadline)
        guard case .serversReply(let view, let servers) = reply else {
            throw TransportError.unexpectedReply("\(reply.typeCode)")
        }
        return (view, servers)
    }

    /// Asks the monitor to hand the primary role to the backup, if the view is still
    /// `viewnum`. Safe to retry: the monitor answers a repeat of the request it carried
    /// out last with the same view.
    public func switchover(from viewnum: UInt64, deadline: NIODeadline? = nil) async throws -> SwitchoverReply {
        let reply = try await askMonitor(.switchover(viewnum: viewnum), deadline: deadline)
        guard case .switchoverReply(let answer) = reply else {
            throw TransportError.unexpectedReply("\(reply.typeCode)")
        }
        return answer
    }

    /// The operator's way out (`kvctl revive`): asks the monitor to make `address` primary
    /// of the next view with whatever it holds, if the view is still `viewnum`. Safe to
    /// retry, as `switchover`.
    public func revive(_ address: String, from viewnum: UInt64, deadline: NIODeadline? = nil) async throws
        -> SwitchoverReply
    {
        let reply = try await askMonitor(.revive(address: address, viewnum: viewnum), deadline: deadline)
        guard case .switchoverReply(let answer) = reply else {
            throw TransportError.unexpectedReply("\(reply.typeCode)")
        }
        return answer
    }

    /// Sends `message` to the monitor at `address` once, whatever its role: no retry, no
    /// other monitor (`kvctl monitors` asks each one its `monitorInfo`). Throws what the
    /// transport reports, a `TransportError.peerError` included (a monitor that does not
    /// take the message).
    public func ask(monitor address: String, _ message: Message, timeout: TimeAmount) async throws -> Message {
        guard PeerAddress(address) != nil else { throw KVClientError.badMonitorAddress(address) }
        return try await send(message, to: address, timeout: timeout)
    }

    /// Sends `message` to the server at `address` itself, once (`serverInfo`, the adopt
    /// step of `kvctl revive`), over this session's connections.
    public func ask(server address: String, _ message: Message, timeout: TimeAmount) async throws -> Message {
        guard PeerAddress(address) != nil else { throw KVClientError.invalid("\(address) is not HOST:PORT") }
        return try await send(message, to: address, timeout: timeout)
    }

    /// Closes this session's own connections (a shared pool's stay open).
    public func close() {
        let connections = state.withLockedValue { state in
            defer { state.connections.removeAll() }
            return Array(state.connections.values)
        }
        for connection in connections { connection.close() }
    }

    // MARK: - Retry loop

    private func perform(_ op: Operation, _ key: Bytes, _ value: Bytes, deadline: NIODeadline?) async throws
        -> ClientReply
    {
        try await perform(deadline: deadline) { core, deadline, now in
            core.start(op, key: key, value: value, deadline: deadline, at: now)
        }
    }

    /// Runs one operation to its end: `start` begins it in the core (under a new sequence
    /// number, which every retry of it keeps), then the core's effects are carried out.
    func perform(
        deadline: NIODeadline?,
        _ start: (_ core: inout ClientCore, _ deadline: UInt64?, _ now: UInt64) -> ClientEffect
    ) async throws -> ClientReply {
        await gate.enter()
        defer { gate.leave() }
        var effect = state.withLockedValue { start(&$0.core, deadline?.uptimeNanoseconds, Self.now()) }
        do {
            while true {
                let event: ClientEvent
                switch effect {
                case .askMonitor(let monitor, let attempt, let timeout):
                    event = try await attemptView(at: monitor, attempt, timeout: timeout)
                case .send(let request, let address, let attempt, let timeout):
                    event = try await attemptRequest(request, to: address, attempt, timeout: timeout)
                case .pause(let duration):
                    try await Task.sleep(nanoseconds: duration)
                    event = .pauseEnded
                case .complete(let reply):
                    return reply
                case .fail(.timedOut(let lastProblem)):
                    throw KVClientError.timedOut(lastProblem: lastProblem)
                case .fail(.invalid(let reason)):
                    throw KVClientError.invalid(reason)
                case .fail(.staleRequest):
                    throw KVClientError.staleRequest
                }
                effect = state.withLockedValue { $0.core.handle(event, at: Self.now()) }!
            }
        } catch {
            // Cancelled, or a caller error (bad monitor address, pool closed): the core's
            // operation ends here without an outcome.
            state.withLockedValue { $0.core.abandon() }
            throw error
        }
    }

    /// One view request for the core. Caller errors end the operation; other failures
    /// are the core's to retry.
    private func attemptView(at monitor: String, _ attempt: UInt64, timeout: UInt64) async throws -> ClientEvent {
        do {
            switch try await send(.getView, to: monitor, timeout: Self.timeAmount(timeout)) {
            case .viewReply(let view): return .viewReceived(attempt: attempt, view)
            case .notLeader(let leader): return .notLeader(attempt: attempt, leader: leader)
            case let reply: throw TransportError.unexpectedReply("\(reply.typeCode)")
            }
        } catch let error as KVClientError {
            throw error
        } catch {
            let problem = ErrorDescription.of(error)
            configuration.onRetry?("monitor \(monitor): \(problem)")
            return .attemptFailed(attempt: attempt, problem: problem)
        }
    }

    private func attemptRequest(_ request: ClientRequest, to address: String, _ attempt: UInt64, timeout: UInt64)
        async throws -> ClientEvent
    {
        do {
            let reply = try await send(.request(request), to: address, timeout: Self.timeAmount(timeout))
            guard case .reply(let answer) = reply else { throw TransportError.unexpectedReply("\(reply.typeCode)") }
            return .replyReceived(attempt: attempt, answer)
        } catch let error as KVClientError {
            throw error
        } catch {
            let problem = ErrorDescription.of(error)
            configuration.onRetry?("server \(address): \(problem)")
            return .attemptFailed(attempt: attempt, problem: problem)
        }
    }

    private static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    private static func nanoseconds(_ amount: TimeAmount) -> UInt64 { UInt64(max(0, amount.nanoseconds)) }

    private static func timeAmount(_ nanoseconds: UInt64) -> TimeAmount { .nanoseconds(Int64(clamping: nanoseconds)) }

    private func pause(deadline: NIODeadline?) async throws {
        var pause = configuration.retryInterval
        if let deadline { pause = min(pause, max(.zero, deadline - NIODeadline.now())) }
        try await Task.sleep(nanoseconds: UInt64(max(0, pause.nanoseconds)))
    }

    /// An admin request, retried until a monitor answers it or the deadline passes. A
    /// monitor that fails or is not the leader passes it at once to the next (or to the
    /// leader it names); the pause comes once every monitor has missed in a row, so one
    /// pass over the list at most between pauses.
    private func askMonitor(_ message: Message, deadline: NIODeadline?) async throws -> Message {
        var lastProblem = "no attempt made"
        while true {
            if let deadline, NIODeadline.now() >= deadline { throw KVClientError.timedOut(lastProblem: lastProblem) }
            let monitor = state.withLockedValue { $0.adminMonitors.current }
            let endsPass: Bool
            do {
                let reply = try await send(message, to: monitor, timeout: attemptTimeout(deadline: deadline))
                if case .notLeader(let leader) = reply {
                    lastProblem =
                        "monitor \(monitor) is not the leader"
                        + (leader.isEmpty ? " and knows none" : " (it names \(leader))")
                    endsPass = state.withLockedValue { $0.adminMonitors.missed(monitor, redirectedTo: leader) }
                } else {
                    state.withLockedValue { $0.adminMonitors.answered(monitor) }
                    return reply
                }
            } catch let error as KVClientError {
                throw error
            } catch {
                lastProblem = "monitor \(monitor): \(ErrorDescription.of(error))"
                endsPass = state.withLockedValue { $0.adminMonitors.missed(monitor, redirectedTo: nil) }
            }
            configuration.onRetry?(lastProblem)
            if endsPass { try await pause(deadline: deadline) }
        }
    }

    /// The attempt timeout, bounded by the deadline (for monitor queries; data operations
    /// get theirs from the core, by the same rule).
    private func attemptTimeout(deadline: NIODeadline?) -> TimeAmount {
        var timeout = configuration.attemptTimeout
        if let deadline { timeout = max(.milliseconds(1), min(timeout, deadline - NIODeadline.now())) }
        return timeout
    }

    /// One attempt: a cached or new connection, one request, bounded by `timeout`. An
    /// authentication failure ends the operation: retrying cannot help.
    private func send(_ message: Message, to address: String, timeout: TimeAmount) async throws -> Message {
        do {
            return try await attempt(message, to: address, timeout: timeout)
        } catch let error as TransportError where error.isAuthenticationFailure {
            throw KVClientError.authentication("\(address): \(error)")
        }
    }

    private func attempt(_ message: Message, to address: String, timeout: TimeAmount) async throws -> Message {
        if PeerAddress(address) == nil, address.isEmpty || configuration.monitors.contains(address) {
            throw KVClientError.badMonitorAddress(address)
        }
        if let pool = configuration.connectionPool {
            return try await pool.request(message, to: address, timeout: timeout)
        }
        let connection = try await connection(to: address, timeout: timeout)
        do {
            return try await connection.request(message, timeout: timeout).get()
        } catch {
            dropConnection(connection)
            throw error
        }
    }

    private func connection(to address: String, timeout: TimeAmount) async throws -> KVConnection {
        if let cached = state.withLockedValue({ $0.connections[address] }), cached.isActive { return cached }
        let connection = try await KVConnection.connect(
            to: address, group: group, timeout: timeout, secret: configuration.secret, tls: configuration.tls
        ).get()
        let previous = state.withLockedValue { state in
            defer { state.connections[address] = connection }
            return state.connections[address]
        }
        previous?.close()
        return connection
    }

    private func dropConnection(_ connection: KVConnection) {
        state.withLockedValue { state in
            if state.connections[connection.peer] === connection { state.connections[connection.peer] = nil }
        }
        connection.close()
    }
}

extension MonitorRotation {
    /// `monitor`, asked concurrently with other requests of the session, failed (`leader`
    /// nil) or redirected: counts only while it is still the current one (another request
    /// may have moved on already). Returns whether the pass is over.
    fileprivate mutating func missed(_ monitor: String, redirectedTo leader: String?) -> Bool {
        guard monitor == current else { return false }
        guard let leader else { return failed() }
        return redirected(to: leader)
    }

    fileprivate mutating func answered(_ monitor: String) {
        if monitor == current { answered() }
    }
}
