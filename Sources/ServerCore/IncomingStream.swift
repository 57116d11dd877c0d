import KVProtocol

/// What a backup has received from the primary of its view: one transfer (chunks in
/// order, then complete), then forward batches in order. It decides which message may be
/// applied; the core applies it.
struct IncomingStream: Equatable {
    let viewnum: UInt64
    let from: String
    let transferID: UInt64
    private(set) var nextChunk: UInt32 = 1
    private(set) var complete = false
    private(set) var nextBatchSeq: UInt64 = 1
    private(set) var keys = 0

    /// What to do with a transfer chunk.
    enum ChunkAdmission: Equatable {
        /// Chunk 0 of a transfer newer than the stream (or of the first one): it replaces
        /// whatever the server held.
        case startsTransfer
        /// The next chunk of the stream's transfer.
        case continuesTransfer
        /// A resend of a chunk already applied: answered as accepted, applied again never.
        case alreadyApplied
        /// Out of order, or of an older transfer: refused (the primary restarts the transfer).
        case outOfOrder
    }

    /// What to do with a forward batch.
    enum BatchAdmission: Equatable {
        case next
        case alreadyApplied
        /// Before the transfer is complete, of another transfer, or with a gap.
        case outOfOrder
    }

    /// A duplicated or delayed chunk 0 of the transfer under way (or done), or of an older
    /// one the primary has since restarted, must not restart reception: that would wipe
    /// the store and, after completion, the forwarded updates the primary counts as held
    /// by this backup (so a promotion could lose acknowledged writes). The primary never
    /// reuses a transfer id, so the same id is a resend (already applied) and a smaller
    /// one is stale.
    static func admit(_ chunk: TransferChunk, after stream: IncomingStream?) -> ChunkAdmission {
        let sameSource = stream.map { $0.viewnum == chunk.viewnum && $0.from == chunk.from } ?? false
        if chunk.index == 0 {
            guard let stream, sameSource, chunk.transferID <= stream.transferID else { return .startsTransfer }
            return chunk.transferID == stream.transferID ? .alreadyApplied : .outOfOrder
        }
        guard let stream, sameSource, stream.transferID == chunk.transferID else { return .outOfOrder }
        if chunk.index < stream.nextChunk { return .alreadyApplied }
        guard chunk.index == stream.nextChunk, !stream.complete else { return .outOfOrder }
        return .continuesTransfer
    }

    /// The stream a transfer's chunk 0 begins.
    init(startedBy chunk: TransferChunk) {
        precondition(chunk.index == 0)
        viewnum = chunk.viewnum
        from = chunk.from
        transferID = chunk.transferID
        keys = chunk.entries.count
        complete = chunk.isLast
    }

    /// Records an admitted next chunk.
    mutating func record(_ chunk: TransferChunk) {
        precondition(chunk.index == nextChunk && !complete, "chunk \(chunk.index) recorded out of order")
        nextChunk += 1
        keys += chunk.entries.count
        complete = chunk.isLast
    }

    func admit(_ batch: ForwardBatch) -> BatchAdmission {
        guard complete, viewnum == batch.viewnum, from == batch.from, transferID == batch.transferID else {
            return .outOfOrder
        }
        if batch.batchSeq < nextBatchSeq { return .alreadyApplied }
        return batch.batchSeq == nextBatchSeq ? .next : .outOfOrder
    }

    /// Records an admitted next batch.
    mutating func record(_ batch: ForwardBatch) {
        precondition(batch.batchSeq == nextBatchSeq, "batch \(batch.batchSeq) recorded out of order")
        nextBatchSeq += 1
    }

    /// Whether this stream holds the whole state of `viewnum` as `primary` had it.
    func holdsWholeState(of viewnum: UInt64, from primary: String) -> Bool {
        complete && self.viewnum == viewnum && from == primary
    }
}
