import KVProtocol
import Logging
import NIOCore
import NIOEmbedded
import XCTest

@testable import KVResp

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH on one connection, with a stand-in server
/// answered by hand: queued commands become one transaction guarded by the watched keys'
/// revisions, each command's reply is cut from its slice of the results, and errors
/// while queuing abort EXEC as in Redis.
final class RESPTransactionTests: XCTestCase {
    private var channel: EmbeddedChannel!
    private var backend: HandDrivenBackend!

    override func setUp() {
        channel = EmbeddedChannel()
        backend = HandDrivenBackend(loop: channel.embeddedEventLoop)
        var logger = Logger(label: "resp-transaction-tests")
        logger.logLevel = .critical
        let endpoint = RESPCommandRunner.Endpoint(startedAt: .now(), connectedClients: { 1 })
        XCTAssertNoThrow(
            try channel.pipeline.syncOperations.addHandler(
                RESPConnectionHandler(
                    backend: backend, endpoint: endpoint, eventLoop: channel.eventLoop, maxRequestsInFlight: 64,
                    logger: logger)))
        XCTAssertNoThrow(try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait())
    }

    override func tearDown() {
        backend.failEverything()
        _ = try? channel.finish()
    }

    func testQueuedCommandsRunAsOneTransactionAndEachGetsItsSlice() throws {
        try channel.sendText("MULTI\r\nSET a 1\r\nINCR n\r\nPING\r\nSET b 2 NX\r\nGET a\r\nEXEC\r\n")
        XCTAssertEqual(channel.receivedText(), "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n")
        XCTAssertEqual(backend.pending.count, 1, "one request for the whole transaction")
        let (a, b) = (Bytes("a".utf8), Bytes("b".utf8))
        let putB = TxnOp.put(b, value: Bytes("2".utf8), expiry: .never, returnPrevious: false)
        XCTAssertEqual(
            backend.pending[0].txn,
            Txn(success: [
                .put(a, value: Bytes("1".utf8), expiry: .never, returnPrevious: false), .add(Bytes("n".utf8), 1),
                .txn(Txn(compares: [.absent(b)], success: [putB])), .get(a),
            ]), "SET NX keeps its compare as a nested transaction")
        let nested = TxnOutcome(succeeded: false, results: [], revision: 4, now: 1)
        backend.completeOldest(
            txnReply([.done, .integer(5), .txn(nested), .value(StoredValue(value: Bytes("1".utf8), revision: 4))]))
        XCTAssertEqual(channel.receivedText(), "*5\r\n+OK\r\n:5\r\n+PONG\r\n$-1\r\n$1\r\n1\r\n")
    }

    func testAnErrorInArgumentsTakesItsPlaceWhileOthersRun() throws {
        try channel.sendText("MULTI\r\nSET a 1 BOGUS\r\nINCR a\r\nEXEC\r\n")
        XCTAssertEqual(channel.receivedText(), "+OK\r\n+QUEUED\r\n+QUEUED\r\n")
        XCTAssertEqual(backend.pending.first?.txn, Txn(success: [.add(Bytes("a".utf8), 1)]))
        backend.completeOldest(txnReply([.error(.notInteger)]))
        XCTAssertEqual(
            channel.receivedText(), "*2\r\n-ERR syntax error\r\n-ERR value is not an integer or out of range\r\n")
    }

    func testARejectedCommandDiscardsTheTransaction() throws {
        try channel.sendText("MULTI\r\nSET a 1\r\nNOSUCH x\r\nGET\r\nEXEC\r\nGET a\r\n")
        XCTAssertEqual(
            channel.receivedText(),
            "+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"
                + "-ERR wrong number of arguments for 'get' command\r\n"
                + "-EXECABORT Transaction discarded because of previous errors.\r\n")
        XCTAssertEqual(backend.pending.map(\.op), [.get], "nothing of the transaction was sent; the GET after it was")
        backend.completeOldest(ClientReply(status: .noKey))
        XCTAssertEqual(channel.receivedText(), "$-1\r\n")
    }

    func testHelloAndAuthInsideMultiAbortItAndQuitStillCloses() throws {
        try channel.sendText("MULTI\r\nHELLO 3\r\nEXEC\r\nMULTI\r\nQUIT\r\n")
        XCTAssertEqual(
            channel.receivedText(),
            "+OK\r\n-ERR this command is not served inside MULTI\r\n"
                + "-EXECABORT Transaction discarded because of previous errors.\r\n+OK\r\n+OK\r\n")
        XCTAssertFalse(channel.isActive)
    }

    func testExecAndDiscardWithoutMultiAndNestingAreErrors() throws {
        try channel.sendText("EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nWATCH a\r\nSET a 1\r\nDISCARD\r\nEXEC\r\n")
        XCTAssertEqual(
            channel.receivedText(),
            "-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n-ERR MULTI calls can not be nested\r\n"
                + "-ERR WATCH inside MULTI is not allowed\r\n+QUEUED\r\n+OK\r\n-ERR EXEC without MULTI\r\n")
        XCTAssertTrue(backend.pending.isEmpty, "a discarded transaction sends nothing")
    }

    func testWatchedRevisionsGuardExecAndAChangeAnswersNull() throws {
        try channel.sendText("WATCH a b\r\nMULTI\r\nINCR a\r\nEXEC\r\n")
        XCTAssertEqual(backend.pending.count, 1, "EXEC waits behind the WATCH")
        XCTAssertEqual(backend.pending[0].txn, Txn(success: [.get(Bytes("a".utf8)), .get(Bytes("b".utf8))]))
        backend.completeOldest(txnReply([.value(StoredValue(value: Bytes("1".utf8), revision: 7)), .value(nil)]))
        XCTAssertEqual(channel.receivedText(), "+OK\r\n+OK\r\n+QUEUED\r\n")
        XCTAssertEqual(
            backend.pending.first?.txn,
            Txn(
                compares: [
                    Compare(key: Bytes("a".utf8), .revision(7), .equal),
                    Compare(key: Bytes("b".utf8), .revision(0), .equal),
                ], success: [.add(Bytes("a".utf8), 1)]))
        backend.completeOldest(txnReply([], succeeded: false))
        XCTAssertEqual(channel.receivedText(), "*-1\r\n", "RESP2's null array")

        // EXEC forgot the watched keys.
        try channel.sendText("MULTI\r\nINCR a\r\nEXEC\r\n")
        XCTAssertEqual(backend.pending.first?.txn?.compares, [])
        backend.completeOldest(txnReply([.integer(2)]))
        XCTAssertEqual(channel.receivedText(), "+OK\r\n+QUEUED\r\n*1\r\n:2\r\n")
    }

    func testUnwatchForgetsTheWatchedKeys() throws {
        try channel.sendText("WATCH a\r\n")
        backend.completeOldest(txnReply([.value(nil)]))
        try channel.sendText("UNWATCH\r\nMULTI\r\nEXEC\r\n")
        XCTAssertEqual(channel.receivedText(), "+OK\r\n+OK\r\n+OK\r\n*0\r\n")
        XCTAssertTrue(backend.pending.isEmpty, "an empty EXEC with nothing watched needs no server")
    }
}
