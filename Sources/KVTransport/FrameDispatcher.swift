import KVProtocol
import NIOCore

/// Hands every established frame to the node's handler with a `Responder` for it.
final class FrameDispatcher: ChannelInboundHandler {
    typealias InboundIn = Frame

    private let onFrame: @Sendable (Frame, Responder) -> Void
    private let faults: FaultInjector?

    init(faults: FaultInjector?, onFrame: @escaping @Sendable (Frame, Responder) -> Void) {
        self.faults = faults
        self.onFrame = onFrame
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let fate = faults?.fateOfRequest() ?? .deliver
        if fate == .dropRequest {
            context.close(promise: nil)
            return
        }
        onFrame(frame, Responder(channel: context.channel, requestID: frame.requestID, dropReply: fate == .dropReply))
    }
}
