import KVProtocol
import NIOConcurrencyHelpers
import NIOCore

/// A request to send, with the promise its reply completes.
public struct OutgoingRequest: Sendable {
    public var message: Message
    public var promise: EventLoopPromise<Message>
    public var timeout: TimeAmount
}

/// Gives each outgoing request an id, matches replies to requests by id, and fails a
/// request when its timeout passes or the connection closes. Many requests can be in
/// flight at once.
///
/// Timeouts share one timer, set for the earliest deadline, rather than a scheduled task
/// per request: scheduling and cancelling one for every request cost a client that
/// multiplexes many sessions more than sending the request did (kvctl bench). An answered
/// request only leaves the table; the timer, when it fires, fails what has expired and is
/// set again for the earliest deadline left, if any.
final class RequestMultiplexer: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = OutgoingRequest
    typealias OutboundOut = Frame

    private struct Pending {
        var promise: EventLoopPromise<Message>
        var deadline: NIODeadline
    }

    private var pending: [UInt64: Pending] = [:]
    private var nextID: UInt64 = 1
    private var closed = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    /// The first error the connection failed with, kept for a request made after it
    /// closed (a TLS handshake can fail before the first request is written).
    private let failure: NIOLockedValueBox<(any Error)?>

    init(failure: NIOLockedValueBox<(any Error)?> = NIOLockedValueBox(nil)) {
        self.failure = failure
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !closed else {
            let error: any Error = failure.withLockedValue { $0 } ?? TransportError.connectionClosed
            request.promise.fail(error)
            promise?.fail(error)
            return
        }
        let id = nextID
        nextID += 1
        let deadline = context.eventLoop.now + request.timeout
        pending[id] = Pending(promise: request.promise, deadline: deadline)
        if timerDeadline.map({ deadline < $0 }) ?? true {
            setTimer(for: deadline, context: context)
        }
        context.write(wrapOutboundOut(Frame(requestID: id, message: request.message)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .error(let code, let message) = frame.message {
            failAll(TransportError.peerError(code, message))
            context.close(promise: nil)
            return
        }
        guard let entry = pending.removeValue(forKey: frame.requestID) else { return }
        entry.promise.succeed(frame.message)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        failAll(TransportError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure.withLockedValue { $0 = $0 ?? error }
        failAll(error)
        context.close(promise: nil)
    }

    private func setTimer(for deadline: NIODeadline, context: ChannelHandlerContext) {
        timer?.cancel()
        timerDeadline = deadline
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            loopBound.value.handler.timerFired(context: loopBound.value.context)
        }
    }

    /// Fails every request whose deadline has passed, then waits for the next deadline.
    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        let now = context.eventLoop.now
        var expired: [EventLoopPromise<Message>] = []
        var next: NIODeadline?
        for (id, entry) in pending {
            if entry.deadline <= now {
                expired.append(entry.promise)
                pending.removeValue(forKey: id)
            } else if next.map({ entry.deadline < $0 }) ?? true {
                next = entry.deadline
            }
        }
        if let next { setTimer(for: next, context: context) }
        for promise in expired { promise.fail(TransportError.timedOut) }
    }

    private func failAll(_ error: any Error) {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        let entries = pending
        pending.removeAll()
        for (_, entry) in entries {
            entry.promise.fail(error)
        }
    }
}
