import KVProtocol
import NIOCore

/// Hands every established frame to the node's handler with a `Responder` for it, and
/// holds reading while the connection has `InFlightLimit.limit` requests unanswered.
final class FrameDispatcher: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    private let onFrame: @Sendable (Frame, Responder) -> Void
    private let inFlight: InFlightLimit
    private var readHeld = false

    init(maxInFlight: Int, onFrame: @escaping @Sendable (Frame, Responder) -> Void) {
        self.onFrame = onFrame
        self.inFlight = InFlightLimit(limit: maxInFlight)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        inFlight.onSlotFreed = { [weak self] in
            guard let self, self.readHeld else { return }
            self.readHeld = false
            loopBound.value.read()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        inFlight.onSlotFreed = nil
    }

    func read(context: ChannelHandlerContext) {
        if inFlight.isFull {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        inFlight.started()
        onFrame(frame, Responder(channel: context.channel, requestID: frame.requestID, inFlight: inFlight))
    }
}
