import FoundationEssentials
import KVTransport
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A client for etcd's v3 JSON gateway (the HTTP/1.1 face every etcd member serves on its
/// client URL): reads, transactions, leases and watches, for a monitor that keeps its
/// view in etcd.
///
/// Requests go to a preferred member; one that finds it unreachable, or unable to serve
/// (no quorum on its side), moves the preference to the next member, so that the next
/// request avoids it. Nothing is retried behind the caller's back except a request whose
/// connection could not even be made (nothing was sent, so even a transaction cannot
/// have taken effect), which is tried once more on the next member within the same
/// timeout. A transaction sent and not answered is never retried: whether it took effect
/// is unknown, and only the caller can find out.
///
/// Futures complete on any event loop of `group`.
public final class EtcdClient: Sendable {
    private let group: any EventLoopGroup
    private let requestTimeout: TimeAmount
    private let logger: Logger
    private let tls: (any ConnectionSecurity)?
    private let state: NIOLockedValueBox<State>

    private struct State {
        var rotation: EndpointRotation
        var closed = false
        var nextID = 0
        /// What `close()` must end.
        var exchanges: [Int: UnaryExchange] = [:]
        var watches: [Int: EtcdWatch] = [:]
    }

    /// `requestTimeout` bounds each request (connection and whole answer) unless the call
    /// gives its own, and a watch's wait for its creation to be confirmed. `tls` is how
    /// https:// endpoints are spoken to (an https:// endpoint without it fails every
    /// request with `tlsNotConfigured`).
    public init(
        endpoints: [EtcdEndpoint], group: any EventLoopGroup, requestTimeout: TimeAmount = .seconds(1),
        tls: (any ConnectionSecurity)? = nil, logger: Logger
    ) {
        self.tls = tls
        precondition(!endpoints.isEmpty, "an etcd client needs at least one endpoint")
        self.group = group
        self.requestTimeout = requestTimeout
        self.logger = logger
        state = NIOLockedValueBox(State(rotation: EndpointRotation(endpoints: endpoints)))
    }

    public var endpoints: [EtcdEndpoint] { state.withLockedValue { $0.rotation.endpoints } }

    /// The member the next request goes to.
    public var preferredEndpoint: EtcdEndpoint {
        state.withLockedValue { $0.rotation.endpoints[$0.rotation.preferred] }
    }

    // MARK: Requests

    /// Reads one key (a linearizable read), with the store's revision at the time of the
    /// read.
    public func get(_ key: [UInt8], timeout: TimeAmount? = nil) -> EventLoopFuture<(kv: EtcdKeyValue?, revision: Int64)>
    {
        request("/v3/kv/range", RangeRequest(key: GatewayBytes(key)), timeout: timeout, retriesConnect: true) {
            answer, endpoint in
            let range = try Self.decode(RangeAnswer.self, answer, endpoint: endpoint)
            return (range.kvs?.first.map(EtcdKeyValue.init), range.header?.revision?.value ?? 0)
        }
    }

    /// Runs `success` if every comparison holds, `failure` otherwise, atomically.
    public func txn(
        compare: [EtcdCompare], success: [EtcdOperation], failure: [EtcdOperation], timeout: TimeAmount? = nil
    ) -> EventLoopFuture<EtcdTxnResult> {
        let body = TxnRequest(
            compare: compare.map(CompareRequest.init), success: success.map(RequestOp.init),
            failure: failure.map(RequestOp.init))
        return request("/v3/kv/txn", body, timeout: timeout, retriesConnect: true) { answer, endpoint in
            let txn = try Self.decode(TxnAnswer.self, answer, endpoint: endpoint)
            var results: [EtcdOperationResult] = []
            for response in txn.responses ?? [] {
                guard let result = EtcdOperationResult(response) else {
                    throw EtcdError.malformedAnswer(
                        endpoint: "\(endpoint)", detail: "a transaction result of no known kind")
                }
                results.append(result)
            }
            let succeeded = txn.succeeded ?? false
            let expected = succeeded ? success.count : failure.count
            guard results.count == expected else {
                throw EtcdError.malformedAnswer(
                    endpoint: "\(endpoint)", detail: "\(results.count) transaction results for \(expected) operations")
            }
            return EtcdTxnResult(succeeded: succeeded, revision: txn.header?.revision?.value ?? 0, results: results)
        }
    }

    /// Grants a lease of at least `ttlSeconds` (etcd may grant more).
    public func grantLease(ttlSeconds: Int64, timeout: TimeAmount? = nil) -> EventLoopFuture<EtcdLease> {
        let body = LeaseGrantRequest(TTL: GatewayInt64(ttlSeconds), ID: GatewayInt64(0))
        return request("/v3/lease/grant", body, timeout: timeout, retriesConnect: true) { answer, endpoint in
            let grant = try Self.decode(LeaseGrantAnswer.self, answer, endpoint: endpoint)
            if let error = grant.error, !error.isEmpty {
                throw ErrorAnswerClassification.error(
                    endpoint: "\(endpoint)", status: answer.status, grpcCode: nil, message: error)
            }
            guard let id = grant.ID?.value, id != 0, let ttl = grant.TTL?.value else {
                throw EtcdError.malformedAnswer(endpoint: "\(endpoint)", detail: "a lease grant without ID or TTL")
            }
            return EtcdLease(id: id, ttlSeconds: ttl)
        }
    }

    /// The TTL etcd granted, or nil when the lease is gone (the gateway answers 200 without a TTL).
    ///
    /// One renewal on the keep-alive stream, which the gateway opens for this request and
    /// ends after answering it.
    public func keepAlive(lease: Int64, timeout: TimeAmount? = nil) -> EventLoopFuture<Int64?> {
        request("/v3/lease/keepalive", LeaseRequest(ID: GatewayInt64(lease)), timeout: timeout, retriesConnect: true) {
            answer, endpoint in
            let line = try Self.decodeFirstLine(LeaseKeepAliveAnswer.self, answer, endpoint: endpoint)
            guard let ttl = line.TTL?.value, ttl > 0 else { return nil }
            return ttl
        }
    }

    /// A lease that is already gone counts as revoked.
    public func revoke(lease: Int64, timeout: TimeAmount? = nil) -> EventLoopFuture<Void> {
        request("/v3/lease/revoke", LeaseRequest(ID: GatewayInt64(lease)), timeout: timeout, retriesConnect: true) {
            answer, endpoint in
            if ErrorAnswerClassification.isLeaseNotFound(status: answer.status, body: answer.body) { return }
            _ = try Self.decode(ResponseHeaderOnly.self, answer, endpoint: endpoint)
        }
    }

    // MARK: Watches

    /// Watches every key under `prefix` from `fromRevision` (inclusive; 0: from now), on
    /// the preferred member, with the header `Grpc-Metadata-hasleader: true` so that a watch
    /// on a member without quorum ends instead of going silent. `onEvents` gets each batch
    /// with the revision of the batch's header (empty progress batches are skipped). The
    /// returned watch's `ended` future fails when the watch ends for any reason (an
    /// `EtcdError`: compacted, unavailable, unreachable, closed...); `cancel()` ends it
    /// (then `ended` fails with `.closed`).
    ///
    /// The batch's revision is that of its events while the watch keeps up, but not while
    /// it catches up on history (events from before it was created, or before a slow
    /// watcher was served): etcd then sends each batch with the store's revision at that
    /// moment, and a long history comes in several batches (1,000 revisions at most each),
    /// all with that revision. So a batch's revision is not "everything up to here was
    /// seen"; when each change happened is its own revision (`modRevision`).
    ///
    /// `onEvents` runs on an event loop of the group, one batch at a time, in revision
    /// order, and never after `ended` failed (except a batch being delivered while
    /// `cancel()` or `close()` runs). A watch that ends because its member is unreachable
    /// or cannot serve moves the preference to the next member, as a request would.
    public func watch(
        prefix: [UInt8], fromRevision: Int64, onEvents: @escaping @Sendable ([EtcdWatchEvent], Int64) -> Void
    ) -> EtcdWatch {
        let body = WatchCreateRequest(
            create_request: .init(
                key: GatewayBytes(prefixRangeStart(prefix)), range_end: GatewayBytes(prefixRangeEnd(prefix)),
                start_revision: GatewayInt64(fromRevision)))
        let eventLoop = group.next()
        let (index, endpoint) = state.withLockedValue {
            ($0.rotation.preferred, $0.rotation.endpoints[$0.rotation.preferred])
        }
        let watch = EtcdWatch(endpoint: endpoint, on: eventLoop, logger: logger)
        guard let id = register({ $0.watches[$1] = watch }) else {
            watch.cancel()
            return watch
        }
        watch.ended.whenFailure { [self] error in
            state.withLockedValue { _ = $0.watches.removeValue(forKey: id) }
            if let error = error as? EtcdError, error.movesPreference { moveOn(from: index, after: error) }
        }
        logger.debug(
            "etcd watch starting",
            metadata: ["etcd_endpoint": "\(endpoint)", "etcd_from_revision": "\(fromRevision)"])
        watch.start(request: Self.encode(body), creationTimeout: requestTimeout, tls: tls, onEvents: onEvents)
        return watch
    }

    /// Fails the requests in flight with `.closed`, cancels the watches; later requests
    /// fail with `.closed` at once.
    public func close() {
        let (exchanges, watches) = state.withLockedValue { state in
            state.closed = true
            defer {
                state.exchanges = [:]
                state.watches = [:]
            }
            return (Array(state.exchanges.values), Array(state.watches.values))
        }
        for exchange in exchanges { exchange.cancel() }
        for watch in watches { watch.cancel() }
        logger.debug("etcd client closed")
    }

    // MARK: The request path

    /// Posts `body` to `path` on the preferred member and reads the answer with `read`,
    /// which returns the result or throws an `EtcdError`.
    private func request<Body: Encodable, Result: Sendable>(
        _ path: String, _ body: Body, timeout: TimeAmount?, retriesConnect: Bool,
        read: @escaping @Sendable (GatewayAnswer, EtcdEndpoint) throws -> Result
    ) -> EventLoopFuture<Result> {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: Result.self)
        let timeout = timeout ?? requestTimeout
        attempt(
            path, Self.encode(body), deadline: .now() + timeout, timeout: timeout, retriesConnect: retriesConnect,
            on: eventLoop, read: read, promise: promise)
        return promise.futureResult
    }

    /// One try on the preferred member, until `deadline`; `timeout` is the request's whole
    /// time, for error messages.
    private func attempt<Result: Sendable>(
        _ path: String, _ body: ByteBuffer, deadline: NIODeadline, timeout: TimeAmount, retriesConnect: Bool,
        on eventLoop: any EventLoop,
        read: @escaping @Sendable (GatewayAnswer, EtcdEndpoint) throws -> Result, promise: EventLoopPromise<Result>
    ) {
        let (index, endpoint) = state.withLockedValue {
            ($0.rotation.preferred, $0.rotation.endpoints[$0.rotation.preferred])
        }
        let exchange = UnaryExchange(on: eventLoop)
        guard let id = register({ $0.exchanges[$1] = exchange }) else {
            exchange.cancel()
            return promise.fail(EtcdError.closed)
        }
        exchange.future.whenComplete { [self] outcome in
            state.withLockedValue { _ = $0.exchanges.removeValue(forKey: id) }
            let error: EtcdError
            switch outcome {
            case .success(let answer):
                do {
                    return promise.succeed(try read(answer, endpoint))
                } catch let failure as EtcdError {
                    error = failure
                } catch {
                    return promise.fail(error)
                }
            case .failure(let failure):
                let failure = failure as? ExchangeFailure
                if case .connect(let detail) = failure, retriesConnect, deadline > .now() {
                    // Nothing was sent: the next member may take it, within the same deadline.
                    moveOn(from: index, after: .unreachable(endpoint: "\(endpoint)", detail: detail))
                    if state.withLockedValue({ $0.rotation.preferred != index }) {
                        return attempt(
                            path, body, deadline: deadline, timeout: timeout, retriesConnect: false, on: eventLoop,
                            read: read, promise: promise)
                    }
                }
                error = Self.error(failure, endpoint: endpoint, timeout: timeout)
            }
            if error.movesPreference { moveOn(from: index, after: error) }
            logger.debug(
                "etcd request failed",
                metadata: ["etcd_path": "\(path)", "etcd_endpoint": "\(endpoint)", "etcd_error": "\(error)"])
            promise.fail(error)
        }
        exchange.start(endpoint: endpoint, path: path, body: body, timeout: deadline - .now(), tls: tls)
    }

    /// Registers something `close()` must end, under a fresh number; nil if the client is
    /// closed (checked under the same lock as `close()` takes, so that nothing registered
    /// escapes it).
    private func register(_ insert: (inout State, Int) -> Void) -> Int? {
        state.withLockedValue { state in
            guard !state.closed else { return nil }
            let id = state.nextID
            state.nextID += 1
            insert(&state, id)
            return id
        }
    }

    private func moveOn(from index: Int, after error: EtcdError) {
        let (moved, next) = state.withLockedValue {
            ($0.rotation.moveOn(from: index), $0.rotation.endpoints[$0.rotation.preferred])
        }
        if moved {
            logger.debug(
                "etcd preferred endpoint moved", metadata: ["etcd_endpoint": "\(next)", "etcd_error": "\(error)"])
        }
    }

    private static func error(_ failure: ExchangeFailure?, endpoint: EtcdEndpoint, timeout: TimeAmount) -> EtcdError {
        let name = "\(endpoint)"
        switch failure {
        case .connect(let detail): return .unreachable(endpoint: name, detail: "cannot connect: \(detail)")
        case .lost(let detail): return .unreachable(endpoint: name, detail: detail)
        case .timedOut: return .unreachable(endpoint: name, detail: "no answer within \(milliseconds(timeout))")
        case .malformed(let detail): return .malformedAnswer(endpoint: name, detail: detail)
        case .closed: return .closed
        case nil: return .unreachable(endpoint: name, detail: "unexpected failure")
        }
    }

    // MARK: JSON

    private static func encode(_ body: some Encodable) -> ByteBuffer {
        // The request types hold strings, optionals and arrays only: encoding cannot fail.
        ByteBuffer(bytes: try! JSONEncoder().encode(body))
    }

    /// Reads a unary answer: the message if the status is 200, the error it stands for
    /// otherwise.
    private static func decode<Message: Decodable>(
        _ type: Message.Type, _ answer: GatewayAnswer, endpoint: EtcdEndpoint
    ) throws -> Message {
        guard answer.status == 200 else {
            throw ErrorAnswerClassification.error(endpoint: "\(endpoint)", status: answer.status, body: answer.body)
        }
        do {
            return try JSONDecoder().decode(type, from: Data(answer.body.readableBytesView))
        } catch {
            let text = ErrorAnswerClassification.printable(answer.body)
            throw EtcdError.malformedAnswer(endpoint: "\(endpoint)", detail: "\(text): \(error)")
        }
    }

    /// Reads the first message of a streaming answer (`{"result": ...}` per line), or the
    /// error that ended the stream.
    private static func decodeFirstLine<Message: Decodable>(
        _ type: Message.Type, _ answer: GatewayAnswer, endpoint: EtcdEndpoint
    ) throws -> Message {
        let name = "\(endpoint)"
        guard answer.status == 200 else {
            throw ErrorAnswerClassification.error(endpoint: name, status: answer.status, body: answer.body)
        }
        // The first line; the gateway ends each with "\n", the last one too, but a body
        // without one is read whole.
        let bytes = answer.body.readableBytesView
        let first = bytes.firstIndex(of: UInt8(ascii: "\n")).map { bytes[..<$0] } ?? bytes[...]
        let line: StreamLine<Message>
        do {
            line = try JSONDecoder().decode(StreamLine<Message>.self, from: Data(first))
        } catch {
            let text = ErrorAnswerClassification.printable(answer.body)
            throw EtcdError.malformedAnswer(endpoint: name, detail: "\(text): \(error)")
        }
        if let error = line.error {
            throw ErrorAnswerClassification.error(
                endpoint: name, status: error.http_code ?? answer.status, grpcCode: error.grpc_code,
                message: error.message ?? "the stream ended with an error")
        }
        guard let message = line.result else {
            throw EtcdError.malformedAnswer(endpoint: name, detail: ErrorAnswerClassification.printable(answer.body))
        }
        return message
    }
}

/// An answer read only for its success (a revoke's).
private struct ResponseHeaderOnly: Decodable {
    var header: ResponseHeader?
}
