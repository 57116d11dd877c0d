import KVEtcd
import KVTestSupport
import NIOCore
import NIOPosix
import XCTest

/// The client against endpoints that are not etcd: nothing listening, a listener that
/// never answers, a server that answers garbage. No etcd needed.
final class EtcdClientFailureTests: XCTestCase {
    private func client(port: Int, requestTimeout: TimeAmount = .seconds(1)) -> EtcdClient {
        let client = EtcdClient(
            endpoints: [EtcdEndpoint(host: "127.0.0.1", port: port)], group: Shared.group,
            requestTimeout: requestTimeout, logger: Shared.logger)
        addTeardownBlock { client.close() }
        return client
    }

    /// A loopback server whose connections get `answer` (then are closed), or nothing at
    /// all when `answer` is nil.
    private func server(answering answer: String?) async throws -> Int {
        let channel = try await ServerBootstrap(group: Shared.group)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(FixedAnswer(answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        addTeardownBlock { try? await channel.close() }
        return try XCTUnwrap(channel.localAddress?.port)
    }

    func testNothingListeningIsUnreachableAtOnce() async throws {
        let client = client(port: try Loopback.freePort())
        let clock = ContinuousClock()
        let started = clock.now
        let read = await etcdError(client.get(bytes("k")))
        let write = await etcdError(client.txn(compare: [], success: [.put(key: bytes("k"), value: [])], failure: []))
        let lease = await etcdError(client.grantLease(ttlSeconds: 5))
        for error in [read, write, lease] {
            guard case .unreachable(_, let detail) = error else { return XCTFail("\(String(describing: error))") }
            XCTAssertTrue(detail.contains("connect"), detail)
        }
        let watch = client.watch(prefix: bytes("p/"), fromRevision: 0) { _, _ in }
        guard case .unreachable = try await endOf(watch, within: 2) else { return XCTFail("watch did not end so") }
        // Far below any request timeout (seconds), with room for a slow machine and
        // ThreadSanitizer.
        XCTAssertLessThan(clock.now - started, .seconds(2), "refused connections must fail fast")
    }

    func testAHostThatDoesNotResolveIsUnreachable() async throws {
        let client = EtcdClient(
            endpoints: [try EtcdEndpoint.parse("http://no-such-host.invalid:2379")], group: Shared.group,
            requestTimeout: .seconds(1), logger: Shared.logger)
        defer { client.close() }
        let clock = ContinuousClock()
        let started = clock.now
        let error = await etcdError(client.get(bytes("k")))
        guard case .unreachable = error else { return XCTFail("\(String(describing: error))") }
        // Name resolution is part of the connection, bounded by the request timeout.
        XCTAssertLessThan(clock.now - started, .milliseconds(1500))
    }

    func testAListenerThatNeverAnswersIsUnreachableAfterTheTimeout() async throws {
        let client = client(port: try await server(answering: nil), requestTimeout: .milliseconds(300))
        let clock = ContinuousClock()
        let started = clock.now
        let error = await etcdError(client.get(bytes("k")))
        let elapsed = clock.now - started
        guard case .unreachable(_, let detail) = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(detail.contains("no answer"), detail)
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(300))
        XCTAssertLessThan(elapsed, .seconds(2))

        // A call's own timeout overrides the client's.
        let quick = clock.now
        _ = await etcdError(client.keepAlive(lease: 1, timeout: .milliseconds(100)))
        XCTAssertLessThan(clock.now - quick, .milliseconds(300) + .milliseconds(500))

        // A watch that is never confirmed ends after the request timeout too.
        let watch = client.watch(prefix: bytes("p/"), fromRevision: 0) { _, _ in }
        guard case .unreachable = try await endOf(watch, within: 3) else { return XCTFail("watch did not end so") }
    }

    func testAnAnswerThatIsNotHTTPIsMalformed() async throws {
        let client = client(port: try await server(answering: "hello, this is not HTTP\r\n\r\n"))
        let error = await etcdError(client.get(bytes("k")))
        guard case .malformedAnswer = error else { return XCTFail("\(String(describing: error))") }
    }

    func testAnHTTPErrorThatIsNotEtcdsIsRejected() async throws {
        let answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nNot Found\n"
        let client = client(port: try await server(answering: answer))
        let error = await etcdError(client.revoke(lease: 1))
        XCTAssertEqual(
            error, .rejected(endpoint: "http://127.0.0.1:\(client.endpoints[0].port)", status: 404, detail: "Not Found")
        )
        let json = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{\"kvs\":1}"
        let garbled = self.client(port: try await server(answering: json))
        guard case .malformedAnswer = await etcdError(garbled.get(bytes("k"))) else { return XCTFail("not malformed") }
    }

    func testCloseFailsRequestsInFlightAndLaterOnesAndEndsWatches() async throws {
        let client = client(port: try await server(answering: nil), requestTimeout: .seconds(30))
        let pending = client.get(bytes("k"))
        let watch = client.watch(prefix: bytes("p/"), fromRevision: 0) { _, _ in }
        try await waitUntil("the request is on its way", timeout: 5) { true }
        let clock = ContinuousClock()
        let started = clock.now
        client.close()
        let error = await etcdError(pending)
        XCTAssertEqual(error, .closed)
        let watchEnd = try await endOf(watch, within: 2)
        XCTAssertEqual(watchEnd, .closed)
        XCTAssertLessThan(clock.now - started, .seconds(2))
        let later = await etcdError(client.get(bytes("k")))
        XCTAssertEqual(later, .closed)
        let late = client.watch(prefix: bytes("p/"), fromRevision: 0) { _, _ in }
        let lateEnd = try await endOf(late, within: 2)
        XCTAssertEqual(lateEnd, .closed)
    }
}

/// Writes a fixed answer once the request came, and then shuts its side of the
/// connection (the client closes it, as a real server's client would); or, without an
/// answer, reads and drops whatever comes, answering nothing. Closing the socket outright
/// with the request unread would make the kernel reset the connection, which can discard
/// the answer before the client reads it.
private final class FixedAnswer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let answer: String?
    private var answered = false

    init(answer: String?) { self.answer = answer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let answer, !answered else { return }
        answered = true
        context.write(NIOAny(ByteBuffer(string: answer)), promise: nil)
        context.flush()
        context.close(mode: .output, promise: nil)
    }
}
