import NIOCore

/// Tells a connection over the listener's limit why it is refused, in Redis's words,
/// then closes it.
final class RESPConnectionRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        let reply = context.channel.allocator.buffer(string: "-ERR max number of clients reached\r\n")
        context.writeAndFlush(NIOAny(reply)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
