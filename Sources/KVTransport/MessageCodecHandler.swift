import KVProtocol
import NIOCore

/// Turns frame bodies into `Frame`s and `Frame`s into length-prefixed bytes.
public final class MessageCodecHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = Frame
    public typealias OutboundIn = Frame
    public typealias OutboundOut = ByteBuffer

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let body = unwrapInboundIn(data)
        do {
            // In place: a forward's keys and values are copied once, into the arrays the
            // store keeps, not first into an array of the whole frame.
            let frame = try body.withUnsafeReadableBytes { try MessageCodec.decode($0) }
            context.fireChannelRead(wrapInboundOut(frame))
        } catch {
            context.fireErrorCaught(error)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        // Encoded field by field into plain memory, then copied once into the buffer
        // that is sent (no array per field, per update or of the body).
        var out = FrameBuffer(bodyCapacity: MessageCodec.sizeHint(frame.message))
        defer { out.deallocate() }
        MessageCodec.encode(frame, into: &out)
        guard out.bodyLength <= Limits.maxFrameSize else {
            // Never send what the peer must refuse (and never trap on the length field).
            promise?.fail(ProtocolError(.frameTooLarge, "refusing to send a frame of \(out.bodyLength) bytes"))
            return
        }
        context.write(wrapOutboundOut(out.buffer(from: context.channel.allocator)), promise: promise)
    }
}
