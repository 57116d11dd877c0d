import KVProtocol

/// What the primary is doing for the backup of its current view.
struct OutgoingStream {
    enum Phase {
        case transferring(TransferProgress)
        case streaming
    }

    let viewnum: UInt64
    let backup: String
    var transferID: UInt64
    var phase: Phase
    /// Sequence number of the open batch (the next one to be sent).
    var nextBatchSeq: UInt64 = 1
    /// Highest batch the backup has applied; 0 is the transfer itself.
    var ackedSeq: UInt64 = 0
    /// Batches sent and not yet acknowledged, oldest first.
    var inFlight: [ForwardBatch] = []
    /// A read waits for the open batch, so it must be sent even with no updates.
    var openNeeded = false
    var ticksSinceProgress = 0
    var needsResend = false

    var isStreaming: Bool {
        if case .streaming = phase { return true }
        return false
    }
}

/// A state transfer in progress. The store is not changed while it runs (client requests
/// are deferred), so a dictionary index is a stable cursor.
struct TransferProgress {
    var cursor: Dictionary<Bytes, Bytes>.Index
    var duplicates: [DuplicateEntry]
    var duplicateCursor = 0
    var nextIndex: UInt32 = 0
    var chunksInFlight = 0
    var sentLast = false
    var restartPending = false
    var keysSent = 0
    var bytesSent = 0
}

/// What the backup has received from the primary of its view.
struct IncomingStream {
    let viewnum: UInt64
    let from: String
    let transferID: UInt64
    var nextChunk: UInt32 = 1
    var complete = false
    var nextBatchSeq: UInt64 = 1
    var keys = 0
}

/// A reply that may leave only once the backup has acknowledged batch `releaseAt`.
struct WaitingReply {
    var releaseAt: UInt64
    let token: ReplyToken
    let reply: ClientReply
}
