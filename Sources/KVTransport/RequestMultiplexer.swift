import KVProtocol
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
final class RequestMultiplexer: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = OutgoingRequest
    typealias OutboundOut = Frame

    private struct Pending {
        var promise: EventLoopPromise<Message>
        var timeout: Scheduled<Void>?
    }

    private var pending: [UInt64: Pending] = [:]
    private var nextID: UInt64 = 1
    private var closed = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !closed else {
            request.promise.fail(TransportError.connectionClosed)
            promise?.fail(TransportError.connectionClosed)
            return
        }
        let id = nextID
        nextID += 1
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timeout = context.eventLoop.scheduleTask(in: request.timeout) {
            loopBound.value.fail(id: id, TransportError.timedOut)
        }
        pending[id] = Pending(promise: request.promise, timeout: timeout)
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
        entry.timeout?.cancel()
        entry.promise.succeed(frame.message)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        failAll(TransportError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func fail(id: UInt64, _ error: any Error) {
        guard let entry = pending.removeValue(forKey: id) else { return }
        entry.promise.fail(error)
    }

    private func failAll(_ error: any Error) {
        let entries = pending
        pending.removeAll()
        for (_, entry) in entries {
            entry.timeout?.cancel()
            entry.promise.fail(error)
        }
    }
}
