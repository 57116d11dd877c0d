import KVProtocol
import Logging
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

/// Logs refused connections, at most once a second.
final class RefusalLog: Sendable {
    private let log: RateLimitedLog

    init(logger: Logger) {
        log = RateLimitedLog(logger: logger)
    }

    func refused(_ channel: any Channel, limit: Int) {
        log.warning(
            metadata: [
                "kv_peer": "\(channel.remoteAddress?.description ?? "?")", "kv_event": "bad-input",
                "kv_reason": "too many connections",
            ]
        ) { more in "refusing a connection: \(limit) already open\(more)" }
    }
}
