import KVProtocol
import KVServices
import Logging
import NIOCore

/// Runs one connection's commands, many at a time (pipelining), and writes the replies
/// strictly in the order the commands arrived.
///
/// Bounded per connection: at most `maxRequestsInFlight` commands wait for the server at
/// once (for a request, or for its state), and commands read beyond that wait here. A
/// WATCH is waited for before the next command starts, since an EXEC behind it compares
/// the revisions it reads. While any wait, while that many commands are
/// unanswered, or while the socket does not take more replies, nothing more is read
/// (`read` is held back): a client that pipelines a million commands is read from only
/// as fast as its commands complete and it reads its replies, and what the server holds
/// for it is bounded by the limit and one read's worth of commands.
///
/// The handler is the connection's `ClientReplySink`: every request is submitted with its
/// reply slot, and the server's reply comes back to `deliver(_:slot:)`, possibly from
/// inside the submit (the server runs on this loop and may answer at once).
final class RESPConnectionHandler: ChannelDuplexHandler, ClientReplySink {
    typealias InboundIn = [Bytes]
    typealias OutboundIn = RESPReply
    typealias OutboundOut = RESPReply

    private var runner: RESPCommandRunner?
    private let backend: any RESPBackend
    private let endpoint: RESPCommandRunner.Endpoint
    private let maxRequestsInFlight: Int
    private let logger: Logger

    private var replies = ReplySequencer<Awaiting>()
    /// Set once added to the pipeline; the replies come back through it.
    private var context: ChannelHandlerContext!
    /// Inside `startWaiting`: a command answered meanwhile (from inside a submit) leaves
    /// the next ones to the loop already running, so that nesting stays bounded.
    private var startingWaiting = false
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
    /// The reply slot of a WATCH in flight: nothing after it starts until it is answered.
    private var barrier: UInt64?

    init(
        backend: any RESPBackend, endpoint: RESPCommandRunner.Endpoint, maxRequestsInFlight: Int, logger: Logger
    ) {
        self.backend = backend
        self.endpoint = endpoint
        self.maxRequestsInFlight = maxRequestsInFlight
        self.logger = logger
    }

    var eventLoop: any EventLoop { context.eventLoop }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let port = context.channel.localAddress?.port
        runner = RESPCommandRunner(backend: backend, endpoint: endpoint, eventLoop: context.eventLoop, port: port)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        waiting.append(runner!.command(unwrapInboundIn(data)))
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
        closing || !waiting.isEmpty || barrier != nil || requestsInFlight >= maxRequestsInFlight
            || replies.count >= maxRequestsInFlight || !context.channel.isWritable
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, !inactive, !mustHoldReads(context: context) else { return }
        readHeld = false
        context.read()
    }

    /// Starts waiting commands in order while the bound allows.
    private func startWaiting(context: ChannelHandlerContext) {
        guard !startingWaiting else { return }
        startingWaiting = true
        defer { startingWaiting = false }
        while !closing, barrier == nil, requestsInFlight < maxRequestsInFlight, let command = waiting.first {
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
        let outcome = runner!.run(command)
        // After the run: HELLO 3's own reply is in RESP3.
        let step = Step(slot: slot, version: runner!.version, waiting: false)
        if command.isBarrier { barrier = slot }
        carryOut(outcome, step, context: context)
    }

    /// Where a command's reply goes, in which protocol, and whether it counts among the
    /// commands waiting for the server.
    private struct Step {
        var slot: UInt64
        var version: RESPProtocol
        var waiting: Bool
    }

    /// What a command submitted to the server needs once the reply comes back.
    struct Awaiting {
        var continuation: RESPCommandRunner.Continuation
        var version: RESPProtocol
    }

    private func carryOut(_ outcome: RESPCommandRunner.Outcome, _ step: Step, context: ChannelHandlerContext) {
        if case .now(let value) = outcome {
            if step.waiting { requestsInFlight -= 1 }
            if barrier == step.slot { barrier = nil }
            complete(step.slot, with: RESPReply(value, step.version), context: context)
            return
        }
        if !step.waiting { requestsInFlight += 1 }
        let step = Step(slot: step.slot, version: step.version, waiting: true)
        switch outcome {
        case .now:
            break
        case .later(let future):
            future.hop(to: context.eventLoop).assumeIsolated().whenSuccess { value in
                self.finish(step, with: .now(value), context: context)
            }
        case .submit(let request, let continuation):
            // Kept in the command's reply slot, which the reply comes back with.
            replies.wait(step.slot, for: Awaiting(continuation: continuation, version: step.version))
            backend.submit(request, slot: step.slot, to: self)
        }
    }

    // MARK: - Replies from the server (ClientReplySink)

    func deliver(_ reply: ClientReply, slot: UInt64) {
        answered(reply, slot: slot)
    }

    func abandon(slot: UInt64) {
        answered(nil, slot: slot)
    }

    private func answered(_ reply: ClientReply?, slot: UInt64) {
        guard !inactive, let awaiting = replies.take(slot) else { return }
        let step = Step(slot: slot, version: awaiting.version, waiting: true)
        finish(step, with: runner!.reply(to: reply, then: awaiting.continuation), context: context)
    }

    /// A command that was in flight has its reply, or one more step to take.
    private func finish(_ step: Step, with outcome: RESPCommandRunner.Outcome, context: ChannelHandlerContext) {
        guard !inactive else { return }
        carryOut(outcome, step, context: context)
        scheduleFlush(context: context)
        startWaiting(context: context)
        resumeReading(context: context)
    }

    /// Writes every reply that is now next in line; closes once the last one owed before
    /// a QUIT, a protocol error or the end of the client's input has gone.
    private func complete(_ slot: UInt64, with value: RESPReply, context: ChannelHandlerContext) {
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
