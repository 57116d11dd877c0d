import KVProtocol

/// What a primary holds for its clients and its backup: requests deferred, replies held
/// until the backup acknowledges their batch, and the stream to the backup with the batch
/// it is gathering. Empty unless the server is a serving primary (or, for deferred
/// requests only, one awaiting its first acknowledgement).
///
/// A stored property of the core rather than a payload of `Duty`: its arrays grow with
/// every request, and an enum payload is copied out to be changed, so every append would
/// copy the array.
struct PrimaryPipeline {
    var deferred: [(request: ClientRequest, token: ReplyToken)] = []
    var held = HeldReplies()
    /// Nil when the view has no backup.
    var stream: OutgoingStream?
    /// Updates for the next batch to the backup. Kept out of `stream` for the reason
    /// above: the optional stream is copied whenever it is read whole.
    var openUpdates: [ForwardedUpdate] = []
    var openBytes = 0

    var isEmpty: Bool { deferred.isEmpty && held.isEmpty && stream == nil && openUpdates.isEmpty }

    /// Drops the stream with the batch it was gathering: those updates are in the store,
    /// so a new backup gets them with its transfer and nobody else needs them.
    mutating func endStream() {
        stream = nil
        openUpdates = []
        openBytes = 0
    }
}

/// Replies that may leave only once the backup has acknowledged their batch and, with a
/// data directory, once the log holds everything they reveal; in arrival order, which is
/// also the order of both conditions.
struct HeldReplies {
    private struct Held {
        var releaseAt: UInt64
        /// The last log record the reply may reveal (0: nothing to wait for).
        let durableAt: UInt64
        let token: ReplyToken
        let reply: ClientReply
    }

    private var replies: [Held] = []
    private var head = 0

    var count: Int { replies.count - head }
    var isEmpty: Bool { head == replies.count }

    mutating func hold(_ reply: ClientReply, for token: ReplyToken, untilBatch seq: UInt64, durableAt lsn: UInt64) {
        replies.append(Held(releaseAt: seq, durableAt: lsn, token: token, reply: reply))
    }

    /// Releases, in order, every reply whose batch the backup has applied (batches up to
    /// `batches`; nil while none can be, during a transfer) and whose log records are
    /// persisted (up to `persisted`).
    mutating func release(batches: UInt64?, persisted: UInt64, _ effects: inout [ServerEffect]) {
        guard let batches else { return }
        var end = head
        while end < replies.count, replies[end].releaseAt <= batches, replies[end].durableAt <= persisted { end += 1 }
        // One acknowledgement releases a whole batch's replies: room for them at once, not
        // by doubling (each doubling copied every effect so far).
        effects.reserveCapacity(effects.count + end - head)
        while head < end {
            effects.append(.reply(replies[head].token, replies[head].reply))
            head += 1
        }
        if head == replies.count {
            replies.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > replies.count {
            replies.removeFirst(head)
            head = 0
        }
    }

    /// For a new backup: the held updates are in the store, so they reach it with the
    /// transfer (batch 0), or need nobody when there is no backup.
    mutating func waitForTransfer() {
        for index in head..<replies.count { replies[index].releaseAt = 0 }
    }

    /// Every held reply's token, in order; none is held any more.
    mutating func takeAll() -> [ReplyToken] {
        defer {
            replies.removeAll(keepingCapacity: true)
            head = 0
        }
        return replies[head...].map(\.token)
    }
}
