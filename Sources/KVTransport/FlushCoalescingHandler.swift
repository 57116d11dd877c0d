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
/// written before it still goes out.
public final class FlushCoalescingHandler: ChannelOutboundHandler {
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
        if flushScheduled {
            flushScheduled = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }
}
