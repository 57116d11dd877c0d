import KVProtocol
import KVServices
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import XCTest

@testable import KVResp

/// Replies the server releases outside a read (as a backup's acknowledgement releases
/// many connections' at once) are written by one task of the loop for all its
/// connections: none before the loop gets to it, each connection's in one write, and a
/// reply completed during that task by the next one.
final class LoopFlushesTests: XCTestCase {
    /// Keeps every request's sink and slot; the test answers them when it likes.
    final class HeldBackend: RESPBackend, @unchecked Sendable {
        private(set) var held: [(request: ClientRequest, sink: any ClientReplySink, slot: UInt64)] = []

        func submit(_ request: ClientRequest) -> EventLoopFuture<ClientReply> {
            preconditionFailure("the endpoint submits with its sink")
        }

        func submit(_ request: ClientRequest, slot: UInt64, to sink: any ClientReplySink) {
            held.append((request, sink, slot))
        }

        func currentRESPState() async -> RESPServerState? { nil }

        /// Answers every held request, in order of arrival, as one step of the server does.
        func answerAll() {
            let answering = held
            held = []
            for entry in answering {
                entry.sink.deliver(
                    ClientReply(status: .ok, value: entry.request.op == .get ? entry.request.key : []),
                    slot: entry.slot)
            }
        }
    }

    /// Records the order connections are written in.
    final class RecordingConnection: ScheduledFlush {
        let name: String
        var log: (String) -> Void
        init(_ name: String, log: @escaping (String) -> Void) {
            self.name = name
            self.log = log
        }
        func writeScheduled() { log(name) }
    }

    func testOneTaskWritesTheConnectionsInTheOrderNamedAndLaterOnesGoToTheNext() {
        let loop = EmbeddedEventLoop()
        let flushes = LoopFlushes(loop: loop)
        var written: [String] = []
        let a = RecordingConnection("a") { written.append($0) }
        let b = RecordingConnection("b") { written.append($0) }
        let c = RecordingConnection("c") { written.append($0) }
        // b, once written, is named again (a reply completed by its write): the next task.
        b.log = { name in
            written.append(name)
            if written.count == 2 { flushes.schedule(b) }
        }
        flushes.schedule(a)
        flushes.schedule(b)
        flushes.schedule(c)
        XCTAssertEqual(written, [], "nothing is written before the loop gets to the task")
        loop.run()
        XCTAssertEqual(written, ["a", "b", "c", "b"])
        loop.run()
        XCTAssertEqual(written, ["a", "b", "c", "b"], "each naming is one write")
        try? loop.syncShutdownGracefully()
    }

    /// `count` connections on `loop`, sharing one `LoopFlushes`, to `backend`.
    private func connections(_ count: Int, on loop: EmbeddedEventLoop, to backend: HeldBackend) throws
        -> [EmbeddedChannel]
    {
        let flushes = LoopFlushes(loop: loop)
        var logger = Logger(label: "loop-flushes-tests")
        logger.logLevel = .critical
        let endpoint = RESPCommandRunner.Endpoint(startedAt: .now(), connectedClients: { count })
        return try (0..<count).map { _ in
            let channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandler(
                RESPConnectionHandler(
                    backend: backend, endpoint: endpoint, eventLoop: loop, flushes: flushes, maxRequestsInFlight: 16,
                    logger: logger))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
            return channel
        }
    }

    func testRepliesReleasedTogetherLeaveInOneWritePerConnection() throws {
        let loop = EmbeddedEventLoop()
        let backend = HeldBackend()
        let channels = try connections(2, on: loop, to: backend)
        defer { for channel in channels { _ = try? channel.finish() } }
        try channels[0].writeInbound(ByteBuffer(string: "SET a 1\r\nGET a\r\nSET b 2\r\n"))
        try channels[1].writeInbound(ByteBuffer(string: "GET c\r\nSET c 3\r\n"))
        loop.run()
        XCTAssertEqual(backend.held.count, 5)
        for channel in channels {
            XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self), "no reply before the server answers")
        }

        backend.answerAll()
        for channel in channels {
            XCTAssertNil(
                try channel.readOutbound(as: ByteBuffer.self), "written by the loop's task, not inside the step")
        }
        loop.run()
        let first = try XCTUnwrap(try channels[0].readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(String(buffer: first), "+OK\r\n$1\r\na\r\n+OK\r\n")
        XCTAssertNil(try channels[0].readOutbound(as: ByteBuffer.self), "one write for the three replies")
        let second = try XCTUnwrap(try channels[1].readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(String(buffer: second), "$1\r\nc\r\n+OK\r\n")
        XCTAssertNil(try channels[1].readOutbound(as: ByteBuffer.self), "one write for the two replies")
    }

    /// The closed connection's write would be refused by its channel anyway; what this
    /// checks is that it does not keep the task from writing the others.
    func testAConnectionClosedBeforeTheTaskLeavesTheOthersWritten() throws {
        let loop = EmbeddedEventLoop()
        let backend = HeldBackend()
        let channels = try connections(2, on: loop, to: backend)
        defer { _ = try? channels[1].finish() }
        for channel in channels { try channel.writeInbound(ByteBuffer(string: "SET a 1\r\n")) }
        loop.run()
        backend.answerAll()
        try channels[0].close().wait()
        loop.run()
        XCTAssertNil(try channels[0].readOutbound(as: ByteBuffer.self), "nothing written after the close")
        XCTAssertEqual(try channels[1].readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }, "+OK\r\n")
    }

    func testEveryLoopOfAGroupHasItsOwn() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        defer { try? group.syncShutdownGracefully() }
        let table = LoopFlushes.perLoop(of: group)
        XCTAssertEqual(table.count, 3)
        for _ in 0..<6 {
            let loop = group.next()
            XCTAssertTrue(table[ObjectIdentifier(loop)]?.loop === loop)
        }
        let single = group.next()
        XCTAssertEqual(LoopFlushes.perLoop(of: single).count, 1, "a loop alone is a group of one")
    }
}
