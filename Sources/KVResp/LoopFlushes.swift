import NIOCore

/// A connection whose replies `LoopFlushes` writes.
protocol ScheduledFlush: AnyObject {
    /// Writes and flushes what was encoded since `LoopFlushes.schedule` named it.
    func writeScheduled()
}

/// The Redis-protocol connections of one event loop whose replies came back from the
/// server outside a read, encoded and not yet written: one task, once the loop's current
/// work is done, writes them all. One acknowledgement from the backup releases the replies
/// of many connections at once, and a task of their own each would cost each reply more
/// than its write does (docs/PERFORMANCE.md); a connection's replies released together
/// still leave in one write.
///
/// Confined to its loop: `schedule` is called there only, by the loop's connections, and
/// the task runs there. That is what makes the unchecked `Sendable` sound: the listener
/// builds one per loop before any connection, and hands each connection its loop's.
final class LoopFlushes: @unchecked Sendable {
    let loop: any EventLoop
    /// Named since the last task ran, in order.
    private var scheduled: [any ScheduledFlush] = []
    /// The array the task walks, kept for its storage.
    private var writing: [any ScheduledFlush] = []
    private var taskQueued = false

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// On `loop`: `connection` is written by the next task. A connection names itself
    /// once until it has been written (`RESPConnectionHandler` keeps that flag).
    func schedule(_ connection: any ScheduledFlush) {
        loop.assertInEventLoop()
        scheduled.append(connection)
        guard !taskQueued else { return }
        taskQueued = true
        loop.assumeIsolatedUnsafeUnchecked().execute { self.writeAll() }
    }

    private func writeAll() {
        taskQueued = false
        // A write may complete a reply that schedules again: it goes to the next task.
        swap(&scheduled, &writing)
        for connection in writing { connection.writeScheduled() }
        writing.removeAll(keepingCapacity: true)
    }

    /// One for each loop of `group` (a single loop is a group of one).
    static func perLoop(of group: any EventLoopGroup) -> [ObjectIdentifier: LoopFlushes] {
        var table: [ObjectIdentifier: LoopFlushes] = [:]
        for loop in group.makeIterator() {
            table[ObjectIdentifier(loop)] = LoopFlushes(loop: loop)
        }
        return table
    }
}
