import KVProtocol
import KVTransport
import NIOCore

/// Carries out a connection's commands: data commands become kvservice client requests
/// of the connection's session (a plain request or one transaction), submitted to the
/// server's normal client path; the others are answered from the server's state or on
/// the spot. Holds what Redis keeps per connection: the protocol version, whether the
/// client has authenticated, its MULTI queue and its WATCHed keys.
struct RESPCommandRunner {
    /// What the endpoint knows of itself, for INFO, and what its connections share.
    struct Endpoint: Sendable {
        var startedAt: NIODeadline
        var connectedClients: @Sendable () -> Int
        /// With a shared secret, a connection must AUTH with it before anything else.
        var secret: SharedSecret?
        var context = CommandContext.live(cursors: ScanCursorTable())
    }

    /// What to do next for a command.
    enum Outcome {
        case now(RESPValue)
        /// The reply once the future completes; it never fails.
        case later(EventLoopFuture<RESPValue>)
        /// One client request for the caller to submit (`RESPBackend.submit(_:slot:to:)`),
        /// then to go on with `reply(to:then:)`.
        case submit(ClientRequest, Continuation)
    }

    /// What follows a server's `ok` or `noKey` answer to a submitted request.
    enum Continuation {
        /// A plain GET, SET or DEL: the reply follows from the answer and the operation
        /// alone (no closure to allocate per command).
        case plain(Operation)
        case then(@Sendable (inout RESPCommandRunner, ClientReply) -> Outcome)
    }

    private var session = RESPSession()
    private var authenticated: Bool
    private(set) var version = RESPProtocol.resp2
    private var transaction: QueuedTransaction?
    /// Each WATCHed key's revision when it was first watched (0: it was missing).
    private var watched: [Bytes: UInt64] = [:]
    let backend: any RESPBackend
    let endpoint: Endpoint
    let eventLoop: any EventLoop
    /// The port this connection came in on, for INFO.
    var port: Int?

    init(backend: any RESPBackend, endpoint: Endpoint, eventLoop: any EventLoop, port: Int?) {
        self.backend = backend
        self.endpoint = endpoint
        self.eventLoop = eventLoop
        self.port = port
        self.authenticated = endpoint.secret == nil
    }

    var clientID: UInt64 { session.clientID }

    /// Reads one command line.
    func command(_ arguments: [Bytes]) -> RESPCommand {
        RESPCommand(arguments: arguments, context: endpoint.context)
    }

    mutating func run(_ command: RESPCommand) -> Outcome {
        // QUIT is never queued; a transaction exists only once authenticated.
        if case .close(let value) = command { return .now(value) }
        if transaction != nil {
            if case .exec = command { return exec() }
            return .now(queue(command))
        }
        switch command {
        case .auth(let password):
            return .now(authenticate(password: password))
        case .hello(let hello):
            return self.hello(hello)
        default:
            break
        }
        guard authenticated else { return .now(RedisError.noAuthentication) }
        switch command {
        case .data(.plain(let plain)):
            let request = session.request(plain.operation, key: plain.key, value: plain.value)
            return .submit(request, .plain(plain.operation))
        case .data(.txn(let plan)):
            return submit(plan)
        case .dbsize:
            return fromState(Self.dbsize)
        case .info(let sections):
            return fromState(info(sections))
        case .multi:
            transaction = QueuedTransaction()
            return .now(.ok)
        case .exec:
            return .now(RedisError.execWithoutMulti)
        case .discard:
            return .now(RedisError.discardWithoutMulti)
        case .watch(let keys):
            return watch(keys)
        case .unwatch:
            watched = [:]
            return .now(.ok)
        case .answer(let value), .rejected(let value):
            return .now(value)
        case .auth, .hello, .close:
            preconditionFailure("answered above")
        }
    }

    // MARK: - Data commands

    /// Sends `plan` as one transaction; its reply may be another plan to send.
    private mutating func submit(_ plan: TxnPlan) -> Outcome {
        .submit(
            session.request(txn: plan.txn),
            .then { runner, reply in
                guard let outcome = reply.outcome else { return .now(TxnPlanResults.unexpected) }
                switch plan.reply(TxnPlanResults(outcome)) {
                case .value(let value): return .now(value)
                case .more(let next): return runner.submit(next)
                }
            })
    }

    // MARK: - Transactions

    /// A command read between MULTI and EXEC.
    private mutating func queue(_ command: RESPCommand) -> RESPValue {
        switch command {
        case .exec:
            preconditionFailure("run carries EXEC out")
        case .discard:
            transaction = nil
            watched = [:]
            return .ok
        case .multi:
            return RedisError.nestedMulti
        case .watch:
            return RedisError.watchInsideMulti
        case .data(let data):
            return transaction!.queue(.plan(data.plan))
        case .dbsize:
            return transaction!.queue(.state(Self.dbsize))
        case .info(let sections):
            return transaction!.queue(.state(info(sections)))
        case .unwatch:
            // EXEC forgets the watched keys anyway.
            return transaction!.queue(.answer(.ok))
        case .answer(let value):
            return transaction!.queue(.answer(value))
        case .rejected(let error):
            return transaction!.refuse(error)
        case .hello, .auth:
            // Either would change the connection when EXEC runs, not when the client sent it.
            return transaction!.refuse(.error("ERR this command is not served inside MULTI"))
        case .close:
            preconditionFailure("run answers QUIT")
        }
    }

    /// EXEC: the queued commands as one transaction, guarded by the watched keys'
    /// revisions. MULTI and WATCH end here whatever happens.
    private mutating func exec() -> Outcome {
        let queued = transaction!
        let watchedKeys = watched
        transaction = nil
        watched = [:]
        guard !queued.aborted else { return .now(RedisError.execAbort) }
        let batch = ExecBatch(queued.entries, watched: watchedKeys)
        guard batch.needsServer else { return answer(batch, nil) }
        return .submit(
            session.request(txn: batch.txn),
            .then { runner, reply in
                guard let outcome = reply.outcome else { return .now(TxnPlanResults.unexpected) }
                return runner.answer(batch, outcome)
            })
    }

    /// EXEC's reply, once the server's state is read if a queued command needs it.
    private func answer(_ batch: ExecBatch, _ outcome: TxnOutcome?) -> Outcome {
        guard batch.needsState, outcome?.succeeded ?? true else { return .now(batch.reply(outcome, state: nil)) }
        return .later(stateFuture().map { batch.reply(outcome, state: $0) })
    }

    /// WATCH: each key's revision read through the primary (a read like any other, so
    /// it is confirmed by the backup); EXEC compares them. A key watched again keeps the
    /// revision of its first WATCH, as a change since then must still abort EXEC.
    private mutating func watch(_ keys: [Bytes]) -> Outcome {
        .submit(
            session.request(txn: Txn(success: keys.map { .get($0) })),
            .then { runner, reply in
                guard let outcome = reply.outcome else { return .now(TxnPlanResults.unexpected) }
                for (key, result) in zip(keys, outcome.results) where runner.watched[key] == nil {
                    if case .value(let stored) = result { runner.watched[key] = stored?.revision ?? 0 }
                }
                return .now(.ok)
            })
    }

    // MARK: - Authentication and protocol

    private mutating func authenticate(password: Bytes) -> RESPValue {
        guard let secret = endpoint.secret else {
            return .error(
                "ERR AUTH <password> called without any password configured for the default user. "
                    + "Are you sure your configuration is correct?")
        }
        authenticated = secret.matches(password: password)
        return authenticated ? .ok : RedisError.wrongPassword
    }

    private mutating func hello(_ hello: HelloRequest) -> Outcome {
        if let (user, password) = hello.credentials {
            // Without a secret the default user needs no password, as in Redis.
            let accepted =
                RESPCommand.uppercased(user) == "DEFAULT"
                && (endpoint.secret.map { $0.matches(password: password) } ?? true)
            guard accepted else { return .now(RedisError.wrongPassword) }
            authenticated = true
        }
        guard authenticated else {
            return .now(
                .error(
                    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
                        + "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
                        + "protocol version at the same time"))
        }
        if let requested = hello.version { version = requested }
        let (id, proto) = (Int64(session.clientID >> 1), version.rawValue)
        return fromState { state in
            .map([
                "server": .bulk("redis"), "version": .bulk(RESPInfo.redisVersion), "proto": .integer(proto),
                "id": .integer(id), "mode": .bulk("standalone"),
                "role": .bulk(state.role == .primary ? "master" : "replica"), "modules": .array([]),
            ])
        }
    }

    // MARK: - Answers from the server's state

    private static func dbsize(_ state: RESPServerState) -> RESPValue {
        state.role == .primary && state.serving ? .integer(Int64(state.keys)) : notPrimary(state)
    }

    private func info(_ sections: [String]) -> @Sendable (RESPServerState) -> RESPValue {
        let (endpoint, port) = (endpoint, port)
        return { state in
            let uptime = (NIODeadline.now() - endpoint.startedAt).nanoseconds / 1_000_000_000
            let info = RESPInfo(
                state: state, port: port, uptimeSeconds: uptime, connectedClients: endpoint.connectedClients())
            return .verbatim(info.text(sections: sections))
        }
    }

    private func fromState(_ answer: @escaping @Sendable (RESPServerState) -> RESPValue) -> Outcome {
        .later(stateFuture().map { state in state.map(answer) ?? Self.stoppedReply })
    }

    private func stateFuture() -> EventLoopFuture<RESPServerState?> {
        let backend = backend
        return eventLoop.makeFutureWithTask { await backend.currentRESPState() }
    }

    // MARK: - Failures

    /// The command's next step once the server has answered a `.submit` outcome's
    /// request (nil: it stopped first): `then` for an ok or no-key reply, else through
    /// `failure`, which may have to ask the server where the primary is.
    mutating func reply(to reply: ClientReply?, then continuation: Continuation) -> Outcome {
        guard let reply else { return .now(Self.stoppedReply) }
        guard reply.status == .ok || reply.status == .noKey else {
            return .later(Self.failure(reply, backend: backend, on: eventLoop).recover(Self.stopped))
        }
        switch continuation {
        case .plain(let operation): return .now(PlainCommand.answer(operation, reply))
        case .then(let then): return then(&self, reply)
        }
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
