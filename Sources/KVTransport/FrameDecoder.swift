import KVProtocol
import NIOCore

/// Splits the byte stream into frame bodies: `length u32 (big-endian) | body`.
///
/// NIOExtras' `LengthFieldBasedFrameDecoder` would buffer a frame of any announced size
/// before handing it on; this one refuses a frame as soon as its length field says it is
/// over `maxFrameSize`, so a peer cannot make us allocate more than the limit.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public let maxFrameSize: Int

    public init(maxFrameSize: Int = Limits.maxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let announced = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        // A TLS record (a handshake, or an alert) where a frame's length should be: far
        // over any frame's limit, so never a frame; said as what it is.
        if announced >> 16 == 0x1603 || announced >> 16 == 0x1503 { throw TransportError.peerSpeaksTLS }
        let length = try FrameLength.bodyLength(announced: announced, maxFrameSize: maxFrameSize)
        guard buffer.readableBytes >= FrameLength.prefixSize + length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: FrameLength.prefixSize)
        let body = buffer.readSlice(length: length)!
        context.fireChannelRead(Self.wrapInboundOut(body))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if seenEOF && buffer.readableBytes > 0 {
            let leftover = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: leftover)
            throw ProtocolError(.malformedFrame, "connection closed inside a frame (\(leftover) bytes left)")
        }
        return .needMoreData
    }
}
