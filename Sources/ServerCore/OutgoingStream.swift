import KVProtocol

/// What a primary sends to the backup of its view: first the whole state in chunks
/// (`transferring`), then batches of updates (`streaming`). It owns its transitions, as
/// etcd's `tracker.Progress` does: the core tells it what was sent and answered, and it
/// says what follows (docs/DESIGN.md §3.4, §3.9).
struct OutgoingStream {
    enum Phase {
        case transferring(TransferProgress)
        case streaming
    }

    let viewnum: UInt64
    let backup: String
    private(set) var transferID: UInt64
    private(set) var phase: Phase
    /// Sequence number of the open batch (the next one to be sent).
    private(set) var nextBatchSeq: UInt64 = 1
    /// Highest batch the backup has applied; 0 is the transfer itself.
    private(set) var ackedSeq: UInt64 = 0
    /// Batches sent and not yet acknowledged, oldest first.
    private(set) var inFlight: [ForwardBatch] = []
    /// A read waits for the open batch, so it must be sent even with no updates.
    var openNeeded = false
    private(set) var ticksSinceProgress = 0
    private(set) var needsResend = false

    init(viewnum: UInt64, backup: String, transferID: UInt64, transfer: TransferProgress) {
        self.viewnum = viewnum
        self.backup = backup
        self.transferID = transferID
        self.phase = .transferring(transfer)
    }

    var isStreaming: Bool {
        if case .streaming = phase { return true }
        return false
    }

    func id(of batch: ForwardBatch) -> BackupMessageID {
        .batch(viewnum: batch.viewnum, transferID: batch.transferID, batchSeq: batch.batchSeq)
    }

    // MARK: - Transfer

    /// The next chunk of the transfer, if the window has room and the last is not sent.
    mutating func nextChunk(
        of store: KeyValueStore, from address: String, config: ServerConfig
    ) -> (BackupMessageID, TransferChunk)? {
        guard case .transferring(var progress) = phase, progress.unacknowledged.count < config.transferWindow,
            !progress.sentLast
        else { return nil }
        var entries: [(key: Bytes, value: StoredValue)] = []
        var bytes = 0
        while progress.cursor != store.endIndex && bytes < config.transferChunkBytes {
            let (key, value) = store.entry(at: progress.cursor)
            entries.append((key, value))
            bytes += TransferChunk.encodedSize(key: key, value: value.value)
            progress.cursor = store.index(after: progress.cursor)
        }
        var dups: [DuplicateEntry] = []
        while progress.duplicateCursor < progress.duplicates.count && bytes < config.transferChunkBytes {
            let dup = progress.duplicates[progress.duplicateCursor]
            dups.append(dup)
            bytes += dup.encodedSize
            progress.duplicateCursor += 1
        }
        let isLast = progress.cursor == store.endIndex && progress.duplicateCursor == progress.duplicates.count
        let chunk = TransferChunk(
            viewnum: viewnum, from: address, transferID: transferID, index: progress.nextIndex, isLast: isLast,
            revision: store.revision, entries: entries, duplicates: dups)
        progress.keysSent += entries.count
        progress.bytesSent += bytes
        progress.sentLast = isLast
        progress.unacknowledged.append(chunk)
        progress.nextIndex += 1
        phase = .transferring(progress)
        return (.chunk(viewnum: viewnum, transferID: transferID, index: chunk.index, round: progress.round), chunk)
    }

    /// What an answer to a chunk means.
    enum ChunkAnswer {
        /// Not for this transfer (an older one, or it is over): nothing to do.
        case stale
        /// The backup did not take it, or no answer came: at the next tick the chunks not
        /// yet acknowledged go again, or (if the backup has lost the transfer) it starts
        /// again from the first chunk.
        case willResend
        /// The backup belongs to a newer view.
        case rejected
        /// Taken; more chunks may go.
        case taken
        /// The last chunk was taken: the backup holds the whole state.
        case completed(keys: Int, bytes: Int, chunks: Int)
    }

    mutating func chunkAnswered(
        viewnum: UInt64, transferID: UInt64, index: UInt32, round: UInt32, _ ack: BackupAck?
    ) -> ChunkAnswer {
        guard viewnum == self.viewnum, transferID == self.transferID, case .transferring(var progress) = phase else {
            return .stale
        }
        guard let ack, ack.verdict != .unknownView, ack.verdict != .outOfOrder else {
            // A refusal or a silence from before the last resend says nothing the resend
            // did not answer already: counting it would start a round at every tick when
            // answers lag behind a round (large chunks on a slow link).
            guard round == progress.round else { return .willResend }
            // A gap (a chunk lost or overtaken on the way) or a lost answer is mended by
            // sending the unacknowledged chunks again, in order, under the same transfer
            // id: the backup takes them from the first it lacks. Only when it refuses the
            // resend of the chunk that was first unacknowledged when the resend went out
            // (every chunk before it acknowledged, so taken, before then) has it lost the
            // transfer (it restarted, or follows another): then start again from chunk 0.
            // A refusal of a first sending says nothing of the kind: the chunk before it
            // may simply have arrived later. Chunk 0 refused is an older transfer's.
            let lostStream =
                ack != nil
                && (ack!.verdict == .unknownView || index == 0
                    || (round > 0 && index == progress.roundFirst))
            if lostStream { progress.restartPending = true } else { progress.resendPending = true }
            phase = .transferring(progress)
            return .willResend
        }
        if ack.verdict == .rejected { return .rejected }
        // The backup takes chunks in order only, so a chunk taken means every one before it was.
        let before = progress.unacknowledged.count
        progress.unacknowledged.removeAll { $0.index <= index }
        if progress.unacknowledged.count < before { ticksSinceProgress = 0 }
        guard progress.sentLast && progress.unacknowledged.isEmpty else {
            phase = .transferring(progress)
            return .taken
        }
        phase = .streaming
        ackedSeq = 0
        return .completed(keys: progress.keysSent, bytes: progress.bytesSent, chunks: Int(progress.nextIndex))
    }

    /// Starts the transfer again from the first chunk, under a new transfer id so the
    /// backup discards what it received of the failed one.
    mutating func restartTransfer(transferID: UInt64, _ transfer: TransferProgress) {
        precondition(!isStreaming, "a completed transfer is not restarted")
        self.transferID = transferID
        phase = .transferring(transfer)
        ticksSinceProgress = 0
    }

    // MARK: - Batches

    /// Whether the open batch may leave now: the window has room and, while another batch
    /// is in flight, the open one is big enough to be worth a second round trip (see
    /// `ServerConfig.pipelineAfterBytes`).
    func mayFlush(openUpdates: Int, openBytes: Int, config: ServerConfig) -> Bool {
        isStreaming && openNeeded && inFlight.count < config.maxBatchesInFlight
            && (inFlight.isEmpty || openBytes >= min(config.pipelineAfterBytes, config.maxBatchBytes)
                || openUpdates >= min(config.pipelineAfterUpdates, config.maxBatchUpdates))
    }

    /// The open batch, sent: it is in flight until the backup acknowledges it.
    mutating func send(_ updates: [ForwardedUpdate], from address: String, lease: UInt64) -> ForwardBatch {
        precondition(isStreaming, "a batch sent before the transfer completed")
        let batch = ForwardBatch(
            viewnum: viewnum, from: address, transferID: transferID, batchSeq: nextBatchSeq, lease: lease,
            updates: updates)
        if inFlight.isEmpty { ticksSinceProgress = 0 }
        inFlight.append(batch)
        nextBatchSeq += 1
        openNeeded = false
        return batch
    }

    /// What an answer to a batch means.
    enum BatchAnswer {
        case stale
        /// The backup did not take it, or no answer came: resent at the next tick.
        case willResend
        case rejected
        /// Batches up to `seq` are applied: their replies may leave.
        case acknowledged(upTo: UInt64)
    }

    mutating func batchAnswered(viewnum: UInt64, transferID: UInt64, seq: UInt64, _ ack: BackupAck?) -> BatchAnswer {
        guard viewnum == self.viewnum, transferID == self.transferID, isStreaming else { return .stale }
        guard let ack else {
            needsResend = true
            return .willResend
        }
        switch ack.verdict {
        case .accepted:
            guard seq > ackedSeq else { return .stale }
            ackedSeq = seq
            inFlight.removeAll { $0.batchSeq <= seq }
            ticksSinceProgress = 0
            return .acknowledged(upTo: seq)
        case .unknownView, .outOfOrder:
            needsResend = true
            return .willResend
        case .rejected:
            return .rejected
        }
    }

    // MARK: - Ticks

    /// What a tick calls for.
    enum TickAction {
        case none
        case restartTransfer(reason: String)
        case resendChunks([TransferChunk], round: UInt32, reason: String)
        case resend([ForwardBatch], reason: String)
    }

    mutating func tick(resendAfterTicks: Int) -> TickAction {
        ticksSinceProgress += 1
        switch phase {
        case .transferring(var progress):
            if progress.restartPending { return .restartTransfer(reason: "backup has lost the transfer") }
            let stalled = !progress.unacknowledged.isEmpty && ticksSinceProgress >= resendAfterTicks
            guard progress.resendPending || stalled else { return .none }
            let reason = progress.resendPending ? "backup did not take a chunk" : "no answer"
            progress.resendPending = false
            progress.round += 1
            progress.roundFirst = progress.unacknowledged.first?.index
            ticksSinceProgress = 0
            phase = .transferring(progress)
            return .resendChunks(progress.unacknowledged, round: progress.round, reason: reason)
        case .streaming:
            let stalled = !inFlight.isEmpty && ticksSinceProgress >= resendAfterTicks
            guard needsResend || stalled else { return .none }
            needsResend = false
            ticksSinceProgress = 0
            return .resend(inFlight, reason: stalled ? "no answer" : "backup did not take a batch")
        }
    }
}

/// A state transfer in progress. The store is not changed while it runs (client requests
/// are deferred), so the store's index is a stable cursor.
struct TransferProgress {
    var cursor: KeyValueStore.Index
    var duplicates: [DuplicateEntry]
    var duplicateCursor = 0
    var nextIndex: UInt32 = 0
    /// Chunks sent and not yet acknowledged, in index order (at most the transfer
    /// window): what a resend sends again.
    var unacknowledged: [TransferChunk] = []
    var sentLast = false
    /// The backup refused the first unacknowledged chunk: start again from chunk 0.
    var restartPending = false
    /// A chunk was refused after a gap, or got no answer: resend the unacknowledged ones.
    var resendPending = false
    /// How many resends went out, and the first chunk of the last one.
    var round: UInt32 = 0
    var roundFirst: UInt32?
    var keysSent = 0
    var bytesSent = 0
}
