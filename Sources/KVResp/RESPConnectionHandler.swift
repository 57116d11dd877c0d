import KVProtocol
import Logging
import NIOCore

/// Runs one connection's commands, many at a time (pipelining), and writes the replies
/// strictly in the order the commands arrived.
///
/// Bounded per connection: at most `maxRequestsInFlight` client requests run at once (a
/// command with several keys counts each, a query of the server's state counts one), and
/// commands read beyond that wait here. While any wait, while that many commands are
/// unanswered, or while the socket does not take more replies, nothing more is read
/// (`read` is held back): a client that pipelines a million commands is read from only
/// as fast as its commands complete and it reads its replies, and what the server holds
/// for it is bounded by the limit and one read's worth of commands.
final class RESPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = [Bytes]
    typealias OutboundIn = RESPValue
    typealias OutboundOut = RESPValue

    private var runner: RESPCommandRunner?
    private let backend: any RESPBackend
    private let endpoint: RESPCommandRunner.Endpoint
    private let maxRequestsInFlight: Int
    private let logger: Logger

    private var replies = ReplySequencer()
    /// Commands read and not yet started.
    private var waiting = CircularBuffer<RESPCommand>()
    private var requestsInFlight = 0
    /// A read the channel asked for and that was held back.
    private var readHeld = false
    private var flushScheduled = false
    /// Replies written and not yet flushed.
    private var unflushed = false
    /// QUIT or a protocol error was read: nothing after it runs, and the connection closes
    /// once every earlier command is answered.
    private var closing = false
    /// The client has shut down its sending side: what it sent is answered, then the
    /// connection closes (`printf 'SET a 1\r\n' | nc HOST PORT` gets its reply).
    private var inputEnded = false
    private var inactive = false
    /// Inside `backend.submit`, for an answer that comes back before it returns.
    private var submitting = false

    init(
        backend: any RESPBackend, endpoint: RESPCommandRunner.Endpoint, maxRequestsInFlight: Int, logger: Logger
    ) {
        self.backend = backend
        self.endpoint = endpoint
        self.maxRequestsInFlight = maxRequestsInFlight
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let port = context.channel.localAddress?.port
        runner = RESPCommandRunner(backend: backend, endpoint: endpoint, eventLoop: context.eventLoop, port: port)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        waiting.append(RESPCommand(arguments: unwrapInboundIn(data)))
        startWaiting(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushNow(context: context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        inactive = true
        waiting.removeAll()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputEnded = true
            if replies.isEmpty && waiting.isEmpty {
                flushNow(context: context)
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After a protocol error the decoder reports any further input as an error too.
        guard !closing else { return }
        if let error = error as? RESPProtocolError {
            logger.warning(
                "bad input from a Redis-protocol client, closing the connection",
                metadata: [
                    "kv_peer": "\(context.channel.remoteAddress?.description ?? "?")", "kv_error": "\(error)",
                    "kv_event": "bad-input",
                ])
            // Answered in its place: after every command read before it.
            waiting.append(.close(.error("ERR \(error)")))
            startWaiting(context: context)
        } else {
            logger.debug(
                "Redis-protocol connection error: \(error)",
                metadata: ["kv_peer": "\(context.channel.remoteAddress?.description ?? "?")"])
            context.close(promise: nil)
        }
    }

    func read(context: ChannelHandlerContext) {
        if mustHoldReads(context: context) {
            readHeld = true
        } else {
            context.read()
        }
    }

    // MARK: - Running commands

    private func mustHoldReads(context: ChannelHandlerContext) -> Bool {
        closing || !waiting.isEmpty || requestsInFlight >= maxRequestsInFlight
            || replies.count >= maxRequestsInFlight || !context.channel.isWritable
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, !inactive, !mustHoldReads(context: context) else { return }
        readHeld = false
        context.read()
    }

    /// Starts waiting commands in order while the bound allows. A command needing more
    /// requests than the bound still runs, alone.
    private func startWaiting(context: ChannelHandlerContext) {
        while !closing, let command = waiting.first {
            let requests = command.requestCount
            if requests > 0 && requestsInFlight > 0 && requestsInFlight + requests > maxRequestsInFlight { break }
            waiting.removeFirst()
            start(command, context: context)
        }
    }

    private func start(_ command: RESPCommand, context: ChannelHandlerContext) {
        let slot = replies.reserve()
        if case .close = command {
            closing = true
            waiting.removeAll()
        }
        carryOut(runner!.run(command), slot: slot, context: context)
    }

    private func carryOut(_ outcome: RESPCommandRunner.Outcome, slot: UInt64, context: ChannelHandlerContext) {
        switch outcome {
        case .now(let value):
            complete(slot, with: value, context: context)
        case .later(let future, let requests):
            requestsInFlight += requests
            future.hop(to: context.eventLoop).assumeIsolated().whenSuccess { value in
                self.requestsInFlight -= requests
                self.finish(slot, with: .now(value), context: context)
            }
        case .submit(let request, let answer):
            requestsInFlight += 1
            // Back on this connection's loop; when the server runs on it too (kv-server has
            // one loop), at once. A backend that answers from inside `submit` is answered in
            // a task of its own: finishing a command starts the next, which must not nest
            // without bound.
            let loop = context.eventLoop
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
            submitting = true
            backend.submit(request) { outcome in
                if loop.inEventLoop && !bound.value.handler.submitting {
                    bound.value.handler.answered(outcome, answer, slot: slot, context: bound.value.context)
                } else {
                    loop.execute {
                        bound.value.handler.answered(outcome, answer, slot: slot, context: bound.value.context)
                    }
                }
            }
            submitting = false
        }
    }

    private func answered(
        _ outcome: Result<ClientReply, any Error>, _ answer: (ClientReply) -> RESPValue, slot: UInt64,
        context: ChannelHandlerContext
    ) {
        requestsInFlight -= 1
        finish(slot, with: runner!.reply(to: outcome, answer: answer), context: context)
    }

    /// A command that was in flight has its reply (or, rarely, one more step to take).
    private func finish(_ slot: UInt64, with outcome: RESPCommandRunner.Outcome, context: ChannelHandlerContext) {
        guard !inactive else { return }
        carryOut(outcome, slot: slot, context: context)
        scheduleFlush(context: context)
        startWaiting(context: context)
        resumeReading(context: context)
    }

    /// Writes every reply that is now next in line; closes once the last one owed before
    /// a QUIT, a protocol error or the end of the client's input has gone.
    private func complete(_ slot: UInt64, with value: RESPValue, context: ChannelHandlerContext) {
        replies.complete(slot, with: value)
        while let ready = replies.nextReady() {
            if replies.isEmpty && (closing || (inputEnded && waiting.isEmpty)) {
                context.writeAndFlush(wrapOutboundOut(ready)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
                unflushed = false
                return
            }
            context.write(wrapOutboundOut(ready), promise: nil)
            unflushed = true
        }
    }

    private func flushNow(context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    /// One flush for every reply completed in this turn of the event loop: replies
    /// released together by one acknowledgement from the backup leave in one write.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard unflushed, !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            guard !self.inactive else { return }
            self.flushNow(context: context)
        }
    }
}

extension RESPCommand {
    /// Client requests the command submits, or 1 for a query of the server's state: what
    /// counts against a connection's bound. Commands answered on the spot count nothing.
    var requestCount: Int {
        switch self {
        case .get, .set, .dbsize, .info, .hello: 1
        case .delete(let keys), .exists(let keys): keys.count
        case .answer, .close, .auth: 0
        }
    }
}
