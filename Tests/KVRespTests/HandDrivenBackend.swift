import KVProtocol
import NIOCore
import NIOEmbedded

@testable import KVResp

/// A server whose requests wait until the test answers them; everything runs on the
/// embedded loop, the test's own thread.
final class HandDrivenBackend: RESPBackend, @unchecked Sendable {
    private let loop: EmbeddedEventLoop
    private var waiting: [(request: ClientRequest, promise: EventLoopPromise<ClientReply>)] = []

    init(loop: EmbeddedEventLoop) { self.loop = loop }

    var pending: [ClientRequest] { waiting.map(\.request) }

    func submit(_ request: ClientRequest) -> EventLoopFuture<ClientReply> {
        let promise = loop.makePromise(of: ClientReply.self)
        waiting.append((request, promise))
        return promise.futureResult
    }

    /// What the server says of itself (HELLO, DBSIZE, INFO); nil: it has stopped.
    var state: RESPServerState?

    func currentRESPState() async -> RESPServerState? { state }

    /// Answers the waiting request with sequence number `seq`.
    func complete(seq: UInt64, _ reply: ClientReply) {
        let index = waiting.firstIndex { $0.request.seq == seq }!
        waiting.remove(at: index).promise.succeed(reply)
        loop.run()
    }

    func completeOldest(_ reply: ClientReply) {
        waiting.removeFirst().promise.succeed(reply)
        loop.run()
    }

    func completeAll(_ reply: ClientReply) {
        while !waiting.isEmpty { completeOldest(reply) }
    }

    func failOldest() {
        waiting.removeFirst().promise.fail(ServerStopped())
        loop.run()
    }

    func failEverything() {
        while !waiting.isEmpty { failOldest() }
    }

    struct ServerStopped: Error {}
}

/// Counts the reads that reach the head of the pipeline.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

extension EmbeddedChannel {
    /// Feeds `text` to the pipeline as bytes from the client.
    func sendText(_ text: String) throws {
        try writeInbound(ByteBuffer(string: text))
        embeddedEventLoop.run()
    }

    /// Everything written to the client since the last call.
    func receivedText() -> String {
        embeddedEventLoop.run()
        var text = ""
        while let buffer = try? readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }
}

/// A server's answer to a transaction that returned `results`.
func txnReply(_ results: [TxnOpResult], succeeded: Bool = true) -> ClientReply {
    ClientReply(outcome: TxnOutcome(succeeded: succeeded, results: results, revision: 1, now: 1_000))
}
