import KVProtocol
import KVTransport
import NIOCore
import NIOEmbedded
import XCTest

/// The transport's codec encodes a frame straight into its send buffer and decodes one in
/// place from its receive buffer: the bytes must be exactly the array encoder's (which
/// docs/PROTOCOL.md and the fuzz corpus pin), and decoding must give the frame back.
final class MessageCodecHandlerTests: XCTestCase {
    private func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(MessageCodecHandler())
        return channel
    }

    private func sent(_ frame: Frame, on channel: EmbeddedChannel) throws -> [UInt8] {
        try channel.writeOutbound(frame)
        var buffer = try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self))
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    private func check(_ frame: Frame, on channel: EmbeddedChannel, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let body = MessageCodec.encode(frame)
        let wire = try sent(frame, on: channel)
        XCTAssertEqual(
            wire, withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + body, file: file, line: line)
        // A receive buffer whose body does not start at its storage's beginning, as a
        // slice of the frame decoder's buffer does not.
        var received = ByteBuffer(bytes: [0xAA, 0xBB] + body)
        received.moveReaderIndex(forwardBy: 2)
        try channel.writeInbound(received)
        XCTAssertEqual(try channel.readInbound(as: Frame.self), frame, file: file, line: line)
    }

    func testEveryMessageLeavesAsTheArrayEncoderWritesItAndReadsBack() throws {
        let channel = try channel()
        for frame in SampleFrames.frames { try check(frame, on: channel) }
    }

    func testRandomForwardBatchesLeaveAsTheArrayEncoderWritesThem() throws {
        let channel = try channel()
        var rng = SplitMix64(seed: 0xF0)
        let pool = SampleFrames.manyUpdates(400)
        for round in 0..<200 {
            // Batches from empty to far beyond the size hint's estimate per update.
            let updates = (0..<rng.below(round < 20 ? 3 : 300)).map { _ in pool[rng.below(pool.count)] }
            var large = updates
            if round % 10 == 0 {
                large.append(
                    ForwardedUpdate(
                        change: .put(rng.bytes(300), StoredValue(value: rng.bytes(5_000), revision: 9)), revision: 9,
                        clientID: 3, seq: 4, reply: ClientReply(status: .ok)))
            }
            let batch = ForwardBatch(
                viewnum: rng.next(), from: "p:\(round)", transferID: rng.next(), batchSeq: rng.next(), updates: large)
            try check(Frame(requestID: rng.next(), message: .forward(batch)), on: channel)
        }
    }
}
