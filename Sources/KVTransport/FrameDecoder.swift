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
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        guard Int(length) <= maxFrameSize else {
            throw ProtocolError(.frameTooLarge, "frame of \(length) bytes exceeds the limit of \(maxFrameSize)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let body = buffer.readSlice(length: Int(length))!
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
