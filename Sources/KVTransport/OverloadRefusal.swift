import KVProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Tells a connection over the listener's limit why it is refused, then closes it. It
/// does not wait for the peer's hello: the error frame is the first and last thing sent.
final class OverloadRefusal: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    func channelActive(context: ChannelHandlerContext) {
        let frame = Frame(requestID: 0, message: .error(code: .overloaded, message: "too many connections"))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// Logs refused connections, at most once a second (a flood must not flood the journal).
final class RefusalLog: Sendable {
    private let logger: Logger
    private let state = NIOLockedValueBox((lastLogged: NIODeadline.distantPast, suppressed: 0))

    init(logger: Logger) {
        self.logger = logger
    }

    func refused(_ channel: any Channel, limit: Int) {
        let now = NIODeadline.now()
        let suppressed: Int? = state.withLockedValue { state in
            guard now - state.lastLogged >= .seconds(1) else {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        guard let suppressed else { return }
        let more = suppressed > 0 ? " (\(suppressed) more refused since the last record)" : ""
        logger.warning(
            "refusing a connection: \(limit) already open\(more)",
            metadata: [
                "kv_peer": "\(channel.remoteAddress?.description ?? "?")", "kv_event": "bad-input",
                "kv_reason": "too many connections",
            ])
    }
}
