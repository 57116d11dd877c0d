import NIOCore

/// Turns the flushes asked for in one turn of the event loop into one, at the end of that
/// turn.
///
/// One acknowledgement from the backup releases the replies of a whole batch, and many
/// client sessions share one connection (`KVConnectionPool`): without this, each of those
/// replies (or requests) is a `write` system call of its own; with it, they leave together.
/// Nothing waits longer than the rest of the current turn. Writes pass through untouched,
/// and their promises complete once the coalesced flush has written them, so "write, then
/// close when written" still works; a close asked for at once flushes first, so what was
/// written before it still goes out. So does the end of a read burst: when the peer's end
/// of stream follows its last request in the same read, NIO closes the channel right
/// after firing `channelReadComplete`, without a close passing through this handler, and
/// an answer written while reading (the handshake's, an error frame) would be lost.
public final class FlushCoalescingHandler: ChannelDuplexHandler {
    public typealias InboundIn = NIOAny
    public typealias OutboundIn = Any

    private var flushScheduled = false

    public init() {}

    public func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            guard self.flushScheduled else { return }
            self.flushScheduled = false
            context.flush()
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushNow(context: context)
        context.close(mode: mode, promise: promise)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushNow(context: context)
        context.fireChannelReadComplete()
    }

    private func flushNow(context: ChannelHandlerContext) {
        guard flushScheduled else { return }
        flushScheduled = false
        context.flush()
    }
}
