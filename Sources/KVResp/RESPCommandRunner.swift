import KVProtocol
import KVTransport
import NIOCore

/// Carries out a connection's commands: data commands become kvservice client requests
/// of the connection's session, submitted to the server's normal client path; the others
/// are answered from the server's state or on the spot.
struct RESPCommandRunner {
    /// What the endpoint knows of itself, for INFO.
    struct Endpoint: Sendable {
        var startedAt: NIODeadline
        var connectedClients: @Sendable () -> Int
        /// With a shared secret, a connection must AUTH with it before anything else.
        var secret: SharedSecret?
    }

    enum Outcome {
        case now(RESPValue)
        /// `requests` client requests are running for it (they count against the
        /// connection's bound on requests in flight). The future never fails.
        case later(EventLoopFuture<RESPValue>, requests: Int)
        /// One client request for the caller to submit (`RESPBackend.submit(_:completion:)`)
        /// and to answer with `reply(to:)`: GET and SET, without a future per command.
        case submit(ClientRequest, answer: @Sendable (ClientReply) -> RESPValue)
    }

    private var session = RESPSession()
    private var authenticated: Bool
    let backend: any RESPBackend
    let endpoint: Endpoint
    let eventLoop: any EventLoop
    /// The port this connection came in on, for INFO.
    let port: Int?

    init(backend: any RESPBackend, endpoint: Endpoint, eventLoop: any EventLoop, port: Int?) {
        self.backend = backend
        self.endpoint = endpoint
        self.eventLoop = eventLoop
        self.port = port
        self.authenticated = endpoint.secret == nil
    }

    var clientID: UInt64 { session.clientID }

    mutating func run(_ command: RESPCommand) -> Outcome {
        if case .auth(let password) = command {
            guard let secret = endpoint.secret else {
                return .now(
                    .error(
                        "ERR AUTH <password> called without any password configured for the default user. "
                            + "Are you sure your configuration is correct?"))
            }
            authenticated = secret.matches(password: password)
            return .now(authenticated ? .ok : .error("WRONGPASS invalid username-password pair or user is disabled."))
        }
        if !authenticated {
            if case .close(let value) = command { return .now(value) }
            return .now(.error("NOAUTH Authentication required."))
        }
        switch command {
        case .get(let key):
            return single(session.request(.get, key: key)) { reply in
                reply.status == .ok ? .bulkString(reply.value) : .null
            }
        case .set(let key, let value):
            return single(session.request(.put, key: key, value: value)) { _ in .ok }
        case .delete(let keys):
            return counted(keys.map { session.request(.delete, key: $0) })
        case .exists(let keys):
            return counted(keys.map { session.request(.get, key: $0) })
        case .dbsize:
            return fromState { state in
                state.role == .primary && state.serving ? .integer(Int64(state.keys)) : Self.notPrimary(state)
            }
        case .info(let sections):
            let (endpoint, port) = (endpoint, port)
            return fromState { state in
                let uptime = (NIODeadline.now() - endpoint.startedAt).nanoseconds / 1_000_000_000
                let info = RESPInfo(
                    state: state, port: port, uptimeSeconds: uptime, connectedClients: endpoint.connectedClients())
                return .bulk(info.text(sections: sections))
            }
        case .hello:
            let id = Int64(session.clientID >> 1)
            return fromState { state in
                .array([
                    .bulk("server"), .bulk("redis"), .bulk("version"), .bulk(RESPInfo.redisVersion), .bulk("proto"),
                    .integer(2), .bulk("id"), .integer(id), .bulk("mode"), .bulk("standalone"), .bulk("role"),
                    .bulk(state.role == .primary ? "master" : "replica"), .bulk("modules"), .array([]),
                ])
            }
        case .answer(let value), .close(let value):
            return .now(value)
        case .auth:
            return .now(.ok)  // handled above
        }
    }

    /// One request; `answer` turns an ok or no-key reply into the command's reply.
    private func single(_ request: ClientRequest, _ answer: @escaping @Sendable (ClientReply) -> RESPValue) -> Outcome {
        .submit(request, answer: answer)
    }

    /// The command's reply once the server has answered a `.submit` outcome's request: at
    /// once for an ok or no-key reply (`answer`), else through `failure`, which may have to
    /// ask the server where the primary is.
    func reply(
        to outcome: Result<ClientReply, any Error>, answer: (ClientReply) -> RESPValue
    ) -> Outcome {
        switch outcome {
        case .success(let reply) where reply.status == .ok || reply.status == .noKey:
            return .now(answer(reply))
        case .success(let reply):
            return .later(Self.failure(reply, backend: backend, on: eventLoop).recover(Self.stopped), requests: 0)
        case .failure:
            return .now(Self.stoppedReply)
        }
    }

    /// Several requests answered together with how many found their key (DEL, EXISTS);
    /// any other outcome of any of them is the command's reply.
    private func counted(_ requests: [ClientRequest]) -> Outcome {
        let (backend, loop) = (backend, eventLoop)
        let all = EventLoopFuture.whenAllSucceed(requests.map { backend.submit($0) }, on: loop)
        let future = all.flatMap { replies -> EventLoopFuture<RESPValue> in
            if let failed = replies.first(where: { $0.status != .ok && $0.status != .noKey }) {
                return Self.failure(failed, backend: backend, on: loop)
            }
            return loop.makeSucceededFuture(.integer(Int64(replies.count { $0.status == .ok })))
        }
        return .later(future.recover(Self.stopped), requests: requests.count)
    }

    private func fromState(_ answer: @escaping @Sendable (RESPServerState) -> RESPValue) -> Outcome {
        let backend = backend
        let future = eventLoop.makeFutureWithTask { await backend.currentRESPState() }
            .map { state in state.map(answer) ?? Self.stoppedReply }
        return .later(future.recover(Self.stopped), requests: 0)
    }

    /// The reply to a request the server did not carry out.
    private static func failure(
        _ reply: ClientReply, backend: any RESPBackend, on loop: any EventLoop
    ) -> EventLoopFuture<RESPValue> {
        switch reply.status {
        case .wrongServer:
            return loop.makeFutureWithTask { await backend.currentRESPState().map(notPrimary) ?? stoppedReply }
        case .retryLater:
            return loop.makeSucceededFuture(
                .error(
                    "TRYAGAIN the primary cannot answer now (transferring its state to a new backup, or too many "
                        + "requests waiting); retry shortly"))
        case .invalid:
            return loop.makeSucceededFuture(.error("ERR \(reply.value.utf8String)"))
        case .staleRequest:
            return loop.makeSucceededFuture(.error("ERR stale request: a newer request of this connection ran first"))
        case .ok, .noKey:
            return loop.makeSucceededFuture(.error("ERR unexpected reply \(reply.status)"))
        }
    }

    /// Names the primary, so a client (or its operator) knows where to go. The address is
    /// the primary's kvservice address; its Redis port is whatever it was configured with.
    static func notPrimary(_ state: RESPServerState) -> RESPValue {
        let view = state.view
        if view.primary.isEmpty {
            return .error("ERR not the primary; the monitor names no primary (view \(view.viewnum))")
        }
        if view.primary == state.address {
            return .error(
                "TRYAGAIN not the primary; this server is named primary of view \(view.viewnum) but cannot serve it "
                    + "(restarted, or replaced); the monitor is moving the role")
        }
        return .error("ERR not the primary; primary is \(view.primary)")
    }

    static let stoppedReply = RESPValue.error("ERR the server is shutting down")

    private static func stopped(_ error: any Error) -> RESPValue { stoppedReply }
}
