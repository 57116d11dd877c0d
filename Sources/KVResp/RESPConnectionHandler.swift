import KVProtocol
import KVServices
import Logging
import NIOCore

/// Runs one connection's commands, many at a time (pipelining), and writes the replies
/// strictly in the order the commands arrived.
///
/// The whole connection in one handler, for the cost per command: it reads commands from
/// the bytes received (`RESPDecoder`, no message per command through the pipeline), and
/// encodes each reply straight into one output buffer, written and flushed once per read
/// (at `channelReadComplete`) or once per loop turn for replies the server releases
/// later (one acknowledgement from the backup releases many; `LoopFlushes` writes every
/// connection of the loop in one task).
///
/// Bounded per connection: at most `maxRequestsInFlight` commands wait for the server at
/// once (for a request, or for its state), and commands received beyond that wait, as
/// bytes, until there is room. A WATCH is waited for before the next command starts,
/// since an EXEC behind it compares the revisions it reads. While any wait, while that
/// many commands are unanswered, or while the socket does not take more replies, nothing
/// more is read (`read` is held back): a client that pipelines a million commands is read
/// from only as fast as its commands complete and it reads its replies, and what the
/// server holds for it is bounded by the limit and one read's worth of bytes.
///
/// The handler is the connection's `ClientReplySink`: every request is submitted with its
/// reply slot, and the server's reply comes back to `deliver(_:slot:)`, possibly from
/// inside the submit (the server runs on this loop and may answer at once) or from inside
/// the server's effects, where starting the next command only queues its request.
final class RESPConnectionHandler: ChannelDuplexHandler, ClientReplySink, ScheduledFlush {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    // Exclusivity: the handler lives on its channel's loop, and none of these is accessed
    // across a call out of the handler: the runner and the sequencer are structs whose
    // mutating methods call nothing outside themselves (the backend is called after they
    // returned), and the buffers are touched only between such calls. So no two accesses
    // overlap, and the dynamic checks (several per command) are left out.
    @exclusivity(unchecked) private var runner: RESPCommandRunner
    @exclusivity(unchecked) private var replies = ReplySequencer<Awaiting>()
    /// Bytes received and not yet read as commands; nil when every byte was.
    @exclusivity(unchecked) private var input: ByteBuffer?
    @exclusivity(unchecked) private var decoder: RESPDecoder
    /// Replies encoded and not yet written.
    @exclusivity(unchecked) private var output = ByteBuffer()
    private let backend: any RESPBackend
    /// Writes the replies the server releases outside a read, with the loop's other
    /// connections' (one task per turn of the loop, not one per connection).
    private let flushes: LoopFlushes
    private let maxRequestsInFlight: Int
    private let logger: Logger
    /// Set once added to the pipeline; the replies come back through it.
    private var context: ChannelHandlerContext!

    private var requestsInFlight = 0
    /// The last attempt to read a command found none whole, and nothing arrived since.
    private var inputExhausted = true
    /// A read the channel asked for and that was held back.
    private var readHeld = false
    /// Named to `flushes`, and not written since.
    private var flushScheduled = false
    /// QUIT or a protocol error was read: nothing after it runs, and the connection closes
    /// once every earlier command is answered.
    private var closing = false
    /// The close after the last reply has begun.
    private var closed = false
    /// The client has shut down its sending side: what it sent is answered, then the
    /// connection closes (`printf 'SET a 1\r\n' | nc HOST PORT` gets its reply).
    private var inputEnded = false
    private var inactive = false
    /// The reply slot of a WATCH in flight: nothing after it starts until it is answered.
    private var barrier: UInt64?
    /// Inside `startWaiting`: a command answered meanwhile (from inside a submit) leaves
    /// the next ones to the loop already running, so that nesting stays bounded.
    private var startingWaiting = false

    /// - Parameters:
    ///   - eventLoop: the channel's loop (the runner's futures run there).
    ///   - flushes: that loop's, shared by its connections; nil: one of its own.
    init(
        backend: any RESPBackend, endpoint: RESPCommandRunner.Endpoint, eventLoop: any EventLoop,
        flushes: LoopFlushes? = nil, decoderBounds: RESPDecoder.Bounds = .init(), maxRequestsInFlight: Int,
        logger: Logger
    ) {
        precondition(flushes == nil || flushes!.loop === eventLoop, "a connection's flushes are its own loop's")
        self.backend = backend
        self.flushes = flushes ?? LoopFlushes(loop: eventLoop)
        self.runner = RESPCommandRunner(backend: backend, endpoint: endpoint, eventLoop: eventLoop, port: nil)
        self.decoder = RESPDecoder(bounds: decoderBounds)
        self.maxRequestsInFlight = maxRequestsInFlight
        self.logger = logger
    }

    var eventLoop: any EventLoop { context.eventLoop }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        runner.port = context.channel.localAddress?.port
        output = context.channel.allocator.buffer(capacity: 1024)
    }

    func channelActive(context: ChannelHandlerContext) {
        // An embedded channel in tests has its address only once connected.
        runner.port = context.channel.localAddress?.port
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var bytes = unwrapInboundIn(data)
        if input == nil {
            input = bytes
        } else {
            // What is left is part of one command (whole ones were read, or wait for room).
            input!.discardReadBytes()
            input!.writeBuffer(&bytes)
        }
        inputExhausted = false
        startWaiting(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushNow(context: context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        inactive = true
        input = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputEnded = true
            // A command cut short by the end of the stream can never be answered: dropped.
            closeIfDone(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug(
            "Redis-protocol connection error: \(error)",
            metadata: ["kv_peer": "\(context.channel.remoteAddress?.description ?? "?")"])
        context.close(promise: nil)
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
        closing || (input != nil && !inputExhausted) || barrier != nil || requestsInFlight >= maxRequestsInFlight
            || replies.count >= maxRequestsInFlight || !context.channel.isWritable
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, !inactive, !mustHoldReads(context: context) else { return }
        readHeld = false
        context.read()
    }

    /// Starts the commands received, in order, while the bound allows.
    private func startWaiting(context: ChannelHandlerContext) {
        guard !startingWaiting else { return }
        startingWaiting = true
        defer { startingWaiting = false }
        while !closing, !inactive, barrier == nil, requestsInFlight < maxRequestsInFlight,
            let command = nextCommand(context: context)
        {
            start(command, context: context)
        }
        closeIfDone(context: context)
    }

    /// The next whole command received; nil once there is none (`inputExhausted`). Bad
    /// input becomes a command too: its error is answered in its place, after every
    /// command read before it, and the connection closes.
    private func nextCommand(context: ChannelHandlerContext) -> RESPCommand? {
        guard input != nil else {
            inputExhausted = true
            return nil
        }
        do {
            let command = try decoder.nextCommand(from: &input!, context: runner.endpoint.context)
            if input!.readableBytes == 0 { input = nil }
            if command == nil { inputExhausted = true }
            return command
        } catch {
            input = nil
            logger.warning(
                "bad input from a Redis-protocol client, closing the connection",
                metadata: [
                    "kv_peer": "\(context.channel.remoteAddress?.description ?? "?")", "kv_error": "\(error)",
                    "kv_event": "bad-input",
                ])
            return .close(.error("ERR \(error)"))
        }
    }

    private func start(_ command: RESPCommand, context: ChannelHandlerContext) {
        let slot = replies.reserve()
        if case .close = command {
            closing = true
            input = nil
        }
        let outcome = runner.run(command)
        // After the run: HELLO 3's own reply is in RESP3.
        let step = Step(slot: slot, version: runner.version, waiting: false)
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
        finish(step, with: runner.reply(to: reply, then: awaiting.continuation), context: context)
    }

    /// A command that was in flight has its reply, or one more step to take.
    private func finish(_ step: Step, with outcome: RESPCommandRunner.Outcome, context: ChannelHandlerContext) {
        guard !inactive else { return }
        carryOut(outcome, step, context: context)
        scheduleFlush(context: context)
        startWaiting(context: context)
        resumeReading(context: context)
    }

    // MARK: - Writing replies

    /// Encodes every reply that is now next in line; closes once the last one owed before
    /// a QUIT, a protocol error or the end of the client's input has gone.
    private func complete(_ slot: UInt64, with value: RESPReply, context: ChannelHandlerContext) {
        replies.complete(slot, with: value)
        while let ready = replies.nextReady() {
            output.writeRESPValue(ready.value, version: ready.version)
        }
        closeIfDone(context: context)
    }

    /// After the last reply owed: closes once it is written.
    private func closeIfDone(context: ChannelHandlerContext) {
        guard !closed, !inactive, replies.isEmpty, closing || (inputEnded && inputExhausted) else { return }
        closed = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(output), promise: written)
        output.clear()
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func flushNow(context: ChannelHandlerContext) {
        guard output.readableBytes > 0, !closed else { return }
        context.writeAndFlush(wrapOutboundOut(output), promise: nil)
        // The storage is reused once the channel has written it (it usually has by now).
        output.clear()
    }

    /// One write for every reply completed in this turn of the event loop: replies
    /// released together by one acknowledgement from the backup leave in one write.
    /// (Inside a read, `channelReadComplete` writes first, and the task finds nothing.)
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard output.readableBytes > 0, !flushScheduled else { return }
        flushScheduled = true
        flushes.schedule(self)
    }

    func writeScheduled() {
        flushScheduled = false
        guard !inactive else { return }
        flushNow(context: context)
    }
}
