import KVProtocol
import KVServices
import Logging
import NIOCore
import NIOEmbedded
import XCTest

@testable import KVResp

/// A connection whose server answers every request from inside its submit, as kv-server's
/// node does when it can answer at once (it runs on the connection's loop): the replies
/// keep their order, a long pipeline does not nest one command inside another's reply,
/// and the replies of one read leave in one write from the connection's one buffer.
final class RESPImmediateReplyTests: XCTestCase {
    /// Answers each request inside `submit`: a GET with its key, anything else with ok.
    final class ImmediateBackend: RESPBackend, @unchecked Sendable {
        private(set) var submitted = 0
        private(set) var deepest = 0
        private var depth = 0

        func submit(_ request: ClientRequest) -> EventLoopFuture<ClientReply> {
            preconditionFailure("the endpoint submits with its sink")
        }

        func submit(_ request: ClientRequest, slot: UInt64, to sink: any ClientReplySink) {
            submitted += 1
            depth += 1
            deepest = max(deepest, depth)
            sink.deliver(ClientReply(status: .ok, value: request.op == .get ? request.key : []), slot: slot)
            depth -= 1
        }

        func currentRESPState() async -> RESPServerState? { nil }
    }

    private var channel: EmbeddedChannel!
    private var backend: ImmediateBackend!

    override func setUpWithError() throws {
        channel = EmbeddedChannel()
        backend = ImmediateBackend()
        var logger = Logger(label: "resp-immediate-tests")
        logger.logLevel = .critical
        let endpoint = RESPCommandRunner.Endpoint(startedAt: .now(), connectedClients: { 1 })
        try channel.pipeline.syncOperations.addHandler(
            RESPConnectionHandler(
                backend: backend, endpoint: endpoint, eventLoop: channel.eventLoop, maxRequestsInFlight: 16,
                logger: logger))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
    }

    override func tearDown() {
        _ = try? channel.finish()
    }

    func testALongPipelineAnsweredInsideItsSubmitsKeepsItsOrderWithoutNesting() throws {
        let count = 5_000  // far beyond the bound of 16 in flight, and deep enough to overflow if nested
        let commands = (0..<count).map { $0 % 2 == 0 ? "SET k\($0) v\r\n" : "GET k\($0)\r\n" }
        try channel.writeInbound(ByteBuffer(string: commands.joined()))
        var writes: [ByteBuffer] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { writes.append(buffer) }
        let expected = (0..<count).map { $0 % 2 == 0 ? "+OK\r\n" : "$\("k\($0)".utf8.count)\r\nk\($0)\r\n" }
        XCTAssertEqual(writes.map { String(buffer: $0) }.joined(), expected.joined())
        XCTAssertEqual(writes.count, 1, "one read's replies leave in one write")
        XCTAssertEqual(backend.submitted, count)
        XCTAssertEqual(backend.deepest, 1, "the next command starts after the submit returns, not inside it")
    }

    func testRepliesOfSeparateReadsLeaveInSeparateWritesFromOneBuffer() throws {
        try channel.writeInbound(ByteBuffer(string: "GET a\r\nPING\r\n"))
        try channel.writeInbound(ByteBuffer(string: "GET bb\r\n"))
        let first = try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
        let second = try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
        XCTAssertEqual(first, "$1\r\na\r\n+PONG\r\n")
        XCTAssertEqual(second, "$2\r\nbb\r\n", "the buffer starts afresh after each write")
    }

    func testACommandSplitAcrossReadsIsAnsweredOnceWhole() throws {
        for part in ["*3\r\n$3\r\nSE", "T\r\n$1\r\nk\r\n$5\r\nhel", "lo\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"] {
            try channel.writeInbound(ByteBuffer(string: part))
        }
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        XCTAssertEqual(text, "+OK\r\n$1\r\nk\r\n")
        XCTAssertEqual(backend.submitted, 2)
    }
}
