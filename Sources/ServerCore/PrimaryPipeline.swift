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
    /// Gets under the read lease whose key's last update is in a batch in flight: each
    /// leaves with that batch's acknowledgement, never waiting for a batch not yet sent.
    var heldForBatchInFlight = HeldReplies()
    /// Nil when the view has no backup.
    var stream: OutgoingStream?
    /// Updates for the next batch to the backup. Kept out of `stream` for the reason
    /// above: the optional stream is copied whenever it is read whole.
    var openUpdates: [ForwardedUpdate] = []
    var openBytes = 0
    /// What of the stream's updates the backup and the log hold (for the read lease).
    var settled = SettledUpdates()

    var isEmpty: Bool { deferred.isEmpty && heldCount == 0 && stream == nil && openUpdates.isEmpty }

    /// Replies held, in both queues.
    var heldCount: Int { held.count + heldForBatchInFlight.count }

    /// Drops the stream with the batch it was gathering: those updates are in the store,
    /// so a new backup gets them with its transfer and nobody else needs them.
    mutating func endStream() {
        stream = nil
        openUpdates = []
        openBytes = 0
        settled = SettledUpdates()
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

    private var replies = FIFOQueue<Held>()

    var count: Int { replies.count }
    var isEmpty: Bool { replies.isEmpty }

    mutating func hold(_ reply: ClientReply, for token: ReplyToken, untilBatch seq: UInt64, durableAt lsn: UInt64) {
        replies.append(Held(releaseAt: seq, durableAt: lsn, token: token, reply: reply))
    }

    /// Releases, in order, every reply whose batch the backup has applied (batches up to
    /// `batches`; nil while none can be, during a transfer) and whose log records are
    /// persisted (up to `persisted`).
    mutating func release(batches: UInt64?, persisted: UInt64, _ effects: inout [ServerEffect]) {
        guard let batches else { return }
        let ready = replies.queued.prefix { $0.releaseAt <= batches && $0.durableAt <= persisted }.count
        // One acknowledgement releases a whole batch's replies: room for them at once, not
        // by doubling (each doubling copied every effect so far).
        effects.reserveCapacity(effects.count + ready)
        for _ in 0..<ready {
            let next = replies.removeFirst()
            effects.append(.reply(next.token, next.reply))
        }
    }

    /// For a new backup: the held updates are in the store, so they reach it with the
    /// transfer (batch 0), or need nobody when there is no backup.
    mutating func waitForTransfer() {
        replies.updateEach { $0.releaseAt = 0 }
    }

    /// Every held reply's token, in order; none is held any more.
    mutating func takeAll() -> [ReplyToken] {
        defer { replies.removeAll() }
        return replies.queued.map(\.token)
    }
}
