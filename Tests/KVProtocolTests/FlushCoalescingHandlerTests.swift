import KVTransport
import NIOCore
import NIOEmbedded
import XCTest

/// The transport's flush coalescing: many flushes in one turn of the loop reach the
/// socket as one, and a close still sends what was written before it.
final class FlushCoalescingHandlerTests: XCTestCase {
    private func channel() throws -> (EmbeddedChannel, FlushCounter) {
        let counter = FlushCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(counter, FlushCoalescingHandler())
        return (channel, counter)
    }

    func testFlushesOfOneTurnReachTheSocketAsOne() throws {
        let (channel, counter) = try channel()
        for index in 0..<25 {
            channel.writeAndFlush(ByteBuffer(string: "reply \(index)\n"), promise: nil)
        }
        XCTAssertEqual(counter.flushes, 0, "nothing leaves before the turn ends")
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self))
        channel.embeddedEventLoop.run()
        XCTAssertEqual(counter.flushes, 1, "one flush for the 25 replies")
        var received = 0
        while try channel.readOutbound(as: ByteBuffer.self) != nil { received += 1 }
        XCTAssertEqual(received, 25, "every write arrives, in order")

        channel.writeAndFlush(ByteBuffer(string: "later\n"), promise: nil)
        channel.embeddedEventLoop.run()
        XCTAssertEqual(counter.flushes, 2, "the next turn flushes again")
        _ = try channel.finish()
    }

    func testAWriteCompletesOnlyOnceFlushed() throws {
        let (channel, _) = try channel()
        let written = channel.writeAndFlush(ByteBuffer(string: "answer\n"))
        var done = false
        written.assumeIsolated().whenComplete { _ in done = true }
        XCTAssertFalse(done)
        channel.embeddedEventLoop.run()
        XCTAssertTrue(done)
        _ = try channel.finish()
    }

    func testTheEndOfAReadBurstFlushesWhatWasWrittenWhileReading() throws {
        // NIO closes a channel whose peer ended its stream right after channelReadComplete,
        // without a close through the pipeline: what was written while reading must be out.
        let (channel, counter) = try channel()
        channel.writeAndFlush(ByteBuffer(string: "hello ack\n"), promise: nil)
        channel.pipeline.fireChannelReadComplete()
        XCTAssertEqual(counter.flushes, 1)
        XCTAssertEqual(try channel.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "hello ack\n"))
        channel.embeddedEventLoop.run()
        XCTAssertEqual(counter.flushes, 1, "the scheduled flush does not flush again")
        _ = try channel.finish()
    }

    func testACloseAtOnceStillSendsWhatWasWrittenBeforeIt() throws {
        let (channel, counter) = try channel()
        channel.writeAndFlush(ByteBuffer(string: "hello ack\n"), promise: nil)
        channel.close(promise: nil)
        XCTAssertEqual(counter.flushes, 1, "the pending flush goes out before the close")
        channel.embeddedEventLoop.run()
        XCTAssertEqual(counter.flushes, 1, "and the scheduled one does not flush again")
        XCTAssertEqual(try channel.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "hello ack\n"))
    }
}

/// Counts the flushes that reach the head of the pipeline (the socket).
private final class FlushCounter: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = Any
    private(set) var flushes = 0

    func flush(context: ChannelHandlerContext) {
        flushes += 1
        context.flush()
    }
}
