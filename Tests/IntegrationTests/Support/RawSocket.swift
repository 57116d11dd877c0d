import Foundation
import KVProtocol
import KVTestSupport
import KVTransport
import NIOCore
import NIOPosix

/// A plain TCP connection that sends exactly the bytes it is given (no framing, no
/// handshake) and records everything the peer sends back, for bad-input tests.
final class RawSocket: Sendable {
    let channel: any Channel
    private let received: Locked<[UInt8]>

    private init(channel: any Channel, received: Locked<[UInt8]>) {
        self.channel = channel
        self.received = received
    }

    static func connect(to address: PeerAddress, group: any EventLoopGroup = Shared.group) async throws -> RawSocket {
        let received = Locked<[UInt8]>([])
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(received: received))
                }
            }
            .connect(host: address.host, port: address.port).get()
        return RawSocket(channel: channel, received: received)
    }

    func send(_ bytes: [UInt8]) async throws {
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await channel.writeAndFlush(buffer)
    }

    /// Ends our side of the stream (the peer reads end-of-file; we can still read).
    func shutdownOutput() async {
        try? await channel.close(mode: .output)
    }

    var bytes: [UInt8] { received.get() }
    var isOpen: Bool { channel.isActive }

    /// Waits until the peer has closed the connection. After `timeout` seconds it fails
    /// the test with `what`, closes the connection from this side and throws.
    func waitForClose(
        _ what: String = "the peer closes the connection", timeout: Double = 5, file: StaticString = #filePath,
        line: UInt = #line
    ) async throws {
        do {
            try await waitUntil(what, timeout: timeout, interval: 0.01, file: file, line: line) { !channel.isActive }
        } catch {
            close()
            throw error
        }
    }

    /// The frames received so far, decoded; throws if the bytes are not whole frames.
    func frames() throws -> [Frame] {
        var bytes = self.bytes[...]
        var frames: [Frame] = []
        while !bytes.isEmpty {
            guard bytes.count >= 4 else { throw TestSetupError("\(bytes.count) stray bytes received") }
            let length = bytes.prefix(4).reduce(0) { $0 << 8 | Int($1) }
            guard bytes.count >= 4 + length else { throw TestSetupError("truncated frame received") }
            frames.append(try MessageCodec.decode(Array(bytes.dropFirst(4).prefix(length))))
            bytes = bytes.dropFirst(4 + length)
        }
        return frames
    }

    func close() {
        channel.close(promise: nil)
    }
}

private final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let received: Locked<[UInt8]>

    init(received: Locked<[UInt8]>) { self.received = received }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        received.update { $0.append(contentsOf: bytes) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The peer closed its side: close ours too, as a client would.
        if event is ChannelEvent, case .inputClosed = event as! ChannelEvent {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Frames as bytes on the wire, for building good and bad inputs.
enum Wire {
    static func frame(_ message: Message, requestID: UInt64 = 1) -> [UInt8] {
        framed(MessageCodec.encode(Frame(requestID: requestID, message: message)))
    }

    /// A 4-byte big-endian length, then `body`.
    static func framed(_ body: [UInt8]) -> [UInt8] {
        lengthPrefix(UInt32(body.count)) + body
    }

    static func lengthPrefix(_ length: UInt32) -> [UInt8] {
        [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
    }

    static var hello: [UInt8] { frame(.hello(version: ProtocolVersion.current), requestID: 0) }
}
