import KVProtocol
import Logging
import NIOCore
import NIOEmbedded
import XCTest

@testable import KVResp

/// One connection's pipeline with a stand-in server whose requests the test completes by
/// hand: replies leave in command order whatever order requests complete in, the bound on
/// requests in flight holds reads back, and QUIT or bad input closes the connection only
/// after everything owed before it.
final class RESPConnectionHandlerTests: XCTestCase {
    private var channel: EmbeddedChannel!
    private var backend: HandDrivenBackend!
    private var reads: ReadCounter!

    override func setUp() {
        channel = EmbeddedChannel()
        backend = HandDrivenBackend(loop: channel.embeddedEventLoop)
    }

    override func tearDown() {
        backend.failEverything()
        _ = try? channel.finish()
    }

    private func startPipeline(maxRequestsInFlight: Int = 1024) throws {
        reads = ReadCounter()
        var logger = Logger(label: "resp-handler-tests")
        logger.logLevel = .critical
        let endpoint = RESPCommandRunner.Endpoint(startedAt: .now(), connectedClients: { 1 })
        try channel.pipeline.syncOperations.addHandlers(
            reads,
            RESPConnectionHandler(
                backend: backend, endpoint: endpoint, eventLoop: channel.eventLoop,
                maxRequestsInFlight: maxRequestsInFlight, logger: logger))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
    }

    func testRepliesLeaveInCommandOrderWhateverOrderRequestsComplete() throws {
        try startPipeline()
        try channel.sendText("SET a 1\r\nGET a\r\nPING\r\nGET b\r\nDEL a b\r\n")
        XCTAssertEqual(backend.pending.map(\.op), [.put, .get, .get, .txn])
        XCTAssertEqual(channel.receivedText(), "", "the first reply is not complete yet")

        backend.complete(seq: 2, ClientReply(status: .ok, value: Bytes("1".utf8)))  // GET a
        backend.complete(seq: 3, ClientReply(status: .noKey))  // GET b
        XCTAssertEqual(channel.receivedText(), "", "still waiting for the SET")
        backend.complete(seq: 1, ClientReply(status: .ok))  // SET
        XCTAssertEqual(channel.receivedText(), "+OK\r\n$1\r\n1\r\n+PONG\r\n$-1\r\n")
        // DEL a b: one transaction deleting both; a existed, b did not.
        backend.complete(seq: 4, txnReply([.integer(1), .integer(0)]))
        XCTAssertEqual(channel.receivedText(), ":1\r\n")
    }

    func testOneConnectionIsOneClientSessionWithIncreasingSequenceNumbers() throws {
        try startPipeline()
        try channel.sendText("SET a 1\r\nGET a\r\nDEL a b c\r\nEXISTS a\r\nDEL a\r\n")
        let requests = backend.pending
        XCTAssertEqual(Set(requests.map(\.clientID)).count, 1)
        XCTAssertEqual(requests.map(\.seq), Array(1...5))
        XCTAssertEqual(requests.map(\.op), [.put, .get, .txn, .txn, .delete])
        XCTAssertEqual(requests[2].txn?.success.count, 3, "DEL of three keys is one transaction")
        backend.completeAll(ClientReply(status: .ok))
    }

    func testRequestsInFlightAreBoundedAndReadsWaitForRoom() throws {
        try startPipeline(maxRequestsInFlight: 4)
        try channel.sendText((0..<10).map { "GET k\($0)\r\n" }.joined())
        XCTAssertEqual(backend.pending.count, 4, "only as many requests as the bound")
        let before = reads.count
        channel.read()
        XCTAssertEqual(reads.count, before, "no read while commands wait")

        backend.completeOldest(ClientReply(status: .noKey))
        XCTAssertEqual(backend.pending.count, 4, "one finished, the next one started")
        XCTAssertEqual(channel.receivedText(), "$-1\r\n")
        backend.completeAll(ClientReply(status: .noKey))
        backend.completeAll(ClientReply(status: .noKey))
        backend.completeAll(ClientReply(status: .noKey))
        XCTAssertEqual(backend.pending.count, 0)
        XCTAssertEqual(channel.receivedText(), String(repeating: "$-1\r\n", count: 9))
        XCTAssertEqual(reads.count, before + 1, "the held read went through once there was room")
        channel.read()
        XCTAssertEqual(reads.count, before + 2)
    }

    func testAProtocolErrorIsAnsweredAfterEarlierCommandsThenTheConnectionCloses() throws {
        try startPipeline()
        try? channel.sendText("GET a\r\nPING\r\n*1\r\n$x\r\nPING\r\n")
        XCTAssertTrue(channel.isActive, "open until the GET is answered")
        backend.completeOldest(ClientReply(status: .ok, value: Bytes("v".utf8)))
        XCTAssertEqual(channel.receivedText(), "$1\r\nv\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")
        XCTAssertFalse(channel.isActive)
    }

    func testQuitAnswersOKAfterEarlierCommandsAndIgnoresLaterOnes() throws {
        try startPipeline()
        try channel.sendText("SET a 1\r\nQUIT\r\nSET b 2\r\n")
        XCTAssertEqual(backend.pending.count, 1, "nothing after QUIT runs")
        backend.completeOldest(ClientReply(status: .ok))
        XCTAssertEqual(channel.receivedText(), "+OK\r\n+OK\r\n")
        XCTAssertFalse(channel.isActive)
    }

    func testTheEndOfTheClientsInputClosesOnceEverythingSentIsAnswered() throws {
        try startPipeline(maxRequestsInFlight: 2)
        try channel.sendText("SET a 1\r\nGET a\r\nGET b\r\nPING\r\n")
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertTrue(channel.isActive, "replies are still owed")
        backend.completeOldest(ClientReply(status: .ok))
        backend.completeOldest(ClientReply(status: .ok, value: Bytes("1".utf8)))
        XCTAssertTrue(channel.isActive, "GET b is still owed")
        backend.completeOldest(ClientReply(status: .noKey))
        XCTAssertEqual(channel.receivedText(), "+OK\r\n$1\r\n1\r\n$-1\r\n+PONG\r\n")
        XCTAssertFalse(channel.isActive)
    }

    func testFailuresBecomeErrorReplies() throws {
        try startPipeline()
        try channel.sendText("SET a 1\r\nSET b 2\r\nGET c\r\n")
        backend.completeOldest(ClientReply(status: .retryLater))
        backend.completeOldest(ClientReply(status: .invalid, value: Bytes("key too long".utf8)))
        backend.failOldest()
        let replies = channel.receivedText()
        XCTAssertTrue(replies.hasPrefix("-TRYAGAIN "), replies)
        XCTAssertTrue(replies.contains("-ERR key too long\r\n"), replies)
        XCTAssertTrue(replies.hasSuffix("-ERR the server is shutting down\r\n"), replies)
    }
}
