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
