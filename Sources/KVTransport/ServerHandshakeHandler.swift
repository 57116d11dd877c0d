import KVProtocol
import NIOCore

/// The listening side of the version check: the first frame must be a `hello` of a
/// version we speak; it is answered with `helloAck` and not passed on.
public final class ServerHandshakeHandler: ChannelInboundHandler {
    public typealias InboundIn = Frame
    public typealias InboundOut = Frame
    public typealias OutboundOut = Frame

    private var established = false

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if established {
            context.fireChannelRead(data)
            return
        }
        guard case .hello(let version) = frame.message else {
            context.fireErrorCaught(ProtocolError(.handshakeRequired, "first frame was \(frame.message.typeCode)"))
            return
        }
        guard version == ProtocolVersion.current else {
            context.fireErrorCaught(
                ProtocolError(
                    .versionMismatch, "peer speaks version \(version), this server \(ProtocolVersion.current)"))
            return
        }
        established = true
        context.writeAndFlush(
            wrapOutboundOut(Frame(requestID: frame.requestID, message: .helloAck(version: ProtocolVersion.current))),
            promise: nil)
    }
}
