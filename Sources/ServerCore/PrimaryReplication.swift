import KVProtocol

/// The primary's side: answering clients, batching updates to the backup, transferring
/// the state to a new backup, and releasing replies as the backup acknowledges
/// (docs/DESIGN.md §3.2, §3.4, §3.5, §3.9).
extension ServerCore {
    // MARK: - Client requests

    mutating func handleClientRequest(_ request: ClientRequest, _ token: ReplyToken, _ effects: inout [ServerEffect]) {
        counters.requests += 1
        guard duty == .primary(.serving) || duty == .primary(.awaitingFirstAck) else {
            effects.append(.reply(token, .wrongServer))
            return
        }
        if let problem = Self.validate(request) {
            effects.append(.reply(token, ClientReply(status: .invalid, value: Bytes(utf8: problem))))
            return
        }
        if refusedForFullDisk(request) {
            effects.append(.reply(token, .retryLater))
            return
        }
        if duty == .primary(.awaitingFirstAck) || mustDefer || heldIsFull {
            guard pipeline.deferred.count < config.maxDeferredRequests else {
                effects.append(.reply(token, .retryLater))
                return
            }
            pipeline.deferred.append((request, token))
            return
        }
        apply(request, token, &effects)
        flush(&effects)
    }

    /// While the log's disk is full, an update is refused before it is applied: its record
    /// could not be written, and the records waiting for space would grow without bound.
    /// A read is served, its reply held until the log holds what it saw (rule D1).
    private func refusedForFullDisk(_ request: ClientRequest) -> Bool {
        diskFull && request.op != .get
    }

    static func validate(_ request: ClientRequest) -> String? {
        if request.key.count > Limits.maxKeySize {
            return "key of \(request.key.count) bytes exceeds the limit of \(Limits.maxKeySize)"
        }
        if request.value.count > Limits.maxValueSize {
            return "value of \(request.value.count) bytes exceeds the limit of \(Limits.maxValueSize)"
        }
        return nil
    }

    /// A request must wait while the transfer runs, or while the open batch is full and no
    /// batch can be sent.
    private var mustDefer: Bool {
        // Read through the optional in place: a copy of the stream would retain its arrays
        // on every request.
        guard let streaming = pipeline.stream?.isStreaming else { return false }
        guard streaming else { return true }
        return pipeline.stream!.inFlight.count >= config.maxBatchesInFlight && openBatchIsFull
    }

    private var openBatchIsFull: Bool {
        pipeline.openBytes >= config.maxBatchBytes || pipeline.openUpdates.count >= config.maxBatchUpdates
    }

    /// Replies waiting for the backup (or the log) are bounded too: reads and retries add
    /// none to a batch, so without this a stalled backup would let them pile up without limit.
    private var heldIsFull: Bool {
        pipeline.held.count >= config.maxWaitingReplies
    }

    /// Applies `request` to the store and holds its reply behind the open batch.
    private mutating func apply(_ request: ClientRequest, _ token: ReplyToken, _ effects: inout [ServerEffect]) {
        let reply: ClientReply
        var update: ForwardedUpdate?
        if request.op == .get {
            if let value = store[request.key] {
                reply = ClientReply(status: .ok, value: value)
            } else {
                reply = ClientReply(status: .noKey)
            }
        } else if let seen = duplicates.lookup(request.clientID), request.seq <= seen.seq {
            // A retry: answer as the first time, never apply twice. The answer still waits
            // for the backup, since the first attempt may not be acknowledged yet.
            reply = request.seq == seen.seq ? seen.reply : ClientReply(status: .staleRequest)
        } else {
            let previous = store[request.key]
            switch request.op {
            case .put:
                reply = ClientReply(status: .ok)
                update = ForwardedUpdate(
                    effect: .set, key: request.key, value: request.value, clientID: request.clientID,
                    seq: request.seq, reply: reply)
            case .putHash:
                let newValue = PutHash.newValue(previous: previous ?? [], argument: request.value)
                reply = ClientReply(status: .ok, value: previous ?? [])
                update = ForwardedUpdate(
                    effect: .set, key: request.key, value: newValue, clientID: request.clientID,
                    seq: request.seq, reply: reply)
            case .delete:
                reply = ClientReply(status: previous == nil ? .noKey : .ok)
                update = ForwardedUpdate(
                    effect: .delete, key: request.key, value: [], clientID: request.clientID,
                    seq: request.seq, reply: reply)
            case .get:
                preconditionFailure("handled above")
            }
            applyUpdate(update!)
            persist(.update(update!), &effects)
        }

        // Whatever the reply says, it may reveal every record logged so far (a Get reads
        // the store, a retry repeats an answer whose update may not be on disk yet).
        let durableAt = lastLSN
        guard pipeline.stream != nil else {
            // No backup in this view: nobody else can be promoted, so answer once the log
            // holds it (at once without a data directory).
            guard config.durable else {
                effects.append(.reply(token, reply))
                return
            }
            pipeline.held.hold(reply, for: token, untilBatch: 0, durableAt: durableAt)
            releaseHeld(&effects)
            return
        }
        if let update {
            pipeline.openUpdates.append(update)
            pipeline.openBytes += update.encodedSize
        }
        pipeline.stream!.openNeeded = true
        pipeline.held.hold(reply, for: token, untilBatch: pipeline.stream!.nextBatchSeq, durableAt: durableAt)
    }

    /// Releases the held replies whose batch the backup has applied (every one, with no
    /// backup; none during a transfer) and whose records the log holds.
    mutating func releaseHeld(_ effects: inout [ServerEffect]) {
        let batches: UInt64?
        if let streaming = pipeline.stream?.isStreaming {
            batches = streaming ? pipeline.stream!.ackedSeq : nil
        } else {
            batches = .max
        }
        pipeline.held.release(batches: batches, persisted: config.durable ? persistedLSN : .max, &effects)
    }

    mutating func applyUpdate(_ update: ForwardedUpdate) {
        switch update.effect {
        case .set: setValue(update.value, for: update.key)
        case .delete: setValue(nil, for: update.key)
        }
        duplicates.record(clientID: update.clientID, seq: update.seq, reply: update.reply)
    }

    /// The one place the store changes, so `storeBytes` stays exact.
    mutating func setValue(_ value: Bytes?, for key: Bytes) {
        let previous = value.map { store.updateValue($0, forKey: key) } ?? store.removeValue(forKey: key)
        if let previous { storeBytes -= key.count + previous.count }
        if let value { storeBytes += key.count + value.count }
    }

    /// Sends the open batch if the stream may take it now.
    private mutating func flush(_ effects: inout [ServerEffect]) {
        guard
            pipeline.stream?.mayFlush(
                openUpdates: pipeline.openUpdates.count, openBytes: pipeline.openBytes, config: config) == true
        else { return }
        let batch = pipeline.stream!.send(pipeline.openUpdates, from: address)
        pipeline.openUpdates = []
        pipeline.openBytes = 0
        counters.batchesSent += 1
        effects.append(
            .sendToBackup(address: pipeline.stream!.backup, id: pipeline.stream!.id(of: batch), .forward(batch)))
    }

    /// Handles requests held during a transfer or a full window, while they can proceed.
    mutating func drainDeferred(_ effects: inout [ServerEffect]) {
        var index = 0
        while index < pipeline.deferred.count, isServing, !mustDefer, !heldIsFull {
            let item = pipeline.deferred[index]
            index += 1
            if refusedForFullDisk(item.request) {
                effects.append(.reply(item.token, .retryLater))
                continue
            }
            apply(item.request, item.token, &effects)
            // Close the open batch once it is full, or everything held during a transfer
            // would leave as one batch larger than a frame may be.
            if pipeline.stream?.inFlight.isEmpty == true || (pipeline.stream != nil && openBatchIsFull) {
                flush(&effects)
            }
        }
        pipeline.deferred.removeFirst(index)
        flush(&effects)
    }

    // MARK: - Starting a view as primary

    /// Begins replication for the current view: a transfer when it has a backup, or
    /// direct service when it has none.
    mutating func startReplication(_ effects: inout [ServerEffect]) {
        precondition(duty == .primary(.serving), "replication started by a \(duty)")
        pipeline.held.waitForTransfer()
        pipeline.endStream()
        guard !view.backup.isEmpty else {
            releaseHeld(&effects)
            ackedViewnum = view.viewnum
            requestPing(&effects)
            drainDeferred(&effects)
            return
        }
        pipeline.stream = OutgoingStream(
            viewnum: view.viewnum, backup: view.backup, transferID: takeTransferID(), transfer: freshTransfer())
        counters.transfersStarted += 1
        effects.append(
            .notice(
                .transferStarted(
                    backup: view.backup, viewnum: view.viewnum, keys: store.count, duplicates: duplicates.count)))
        sendChunks(&effects)
    }

    /// Transfer ids are never reused, so a backup tells a resent chunk from a restarted
    /// transfer's.
    private mutating func takeTransferID() -> UInt64 {
        defer { nextTransferID += 1 }
        return nextTransferID
    }

    private func freshTransfer() -> TransferProgress {
        TransferProgress(cursor: store.startIndex, duplicates: duplicates.entriesInOrder())
    }

    /// Sends chunks while the transfer window has room.
    private mutating func sendChunks(_ effects: inout [ServerEffect]) {
        guard let backup = pipeline.stream?.backup else { return }
        while let (id, chunk) = pipeline.stream!.nextChunk(of: store, from: address, config: config) {
            effects.append(.sendToBackup(address: backup, id: id, .transfer(chunk)))
        }
    }

    private mutating func restartTransfer(reason: String, _ effects: inout [ServerEffect]) {
        guard let stream = pipeline.stream else { return }
        pipeline.stream!.restartTransfer(transferID: takeTransferID(), freshTransfer())
        counters.transfersStarted += 1
        effects.append(.notice(.transferRestarted(backup: stream.backup, viewnum: stream.viewnum, reason: reason)))
        sendChunks(&effects)
    }

    // MARK: - Backup replies

    mutating func handleBackupReply(_ id: BackupMessageID, _ ack: BackupAck?, _ effects: inout [ServerEffect]) {
        guard pipeline.stream != nil else { return }
        switch id {
        case .batch(let viewnum, let transferID, let seq):
            switch pipeline.stream!.batchAnswered(viewnum: viewnum, transferID: transferID, seq: seq, ack) {
            case .stale, .willResend:
                break
            case .rejected:
                fence(verdict: .rejected, &effects)
            case .acknowledged:
                releaseHeld(&effects)
                flush(&effects)
                drainDeferred(&effects)
            }
        case .chunk(let viewnum, let transferID, let index, let round):
            switch pipeline.stream!.chunkAnswered(
                viewnum: viewnum, transferID: transferID, index: index, round: round, ack)
            {
            case .stale, .willResend:
                break
            case .rejected:
                fence(verdict: .rejected, &effects)
            case .taken:
                sendChunks(&effects)
            case .completed(let keys, let bytes, let chunks):
                let stream = pipeline.stream!
                effects.append(
                    .notice(
                        .transferCompleted(
                            backup: stream.backup, viewnum: stream.viewnum, keys: keys, bytes: bytes, chunks: chunks)))
                ackedViewnum = stream.viewnum
                counters.transfersCompleted += 1
                releaseHeld(&effects)
                requestPing(&effects)
                drainDeferred(&effects)
            }
        }
    }

    /// The backup refused this primary: another view has begun. Stop answering until
    /// the monitor says what it is.
    private mutating func fence(verdict: BackupVerdict, _ effects: inout [ServerEffect]) {
        let backup = pipeline.stream?.backup ?? ""
        duty = .primary(.fenced)
        effects.append(.notice(.fenced(backup: backup, viewnum: view.viewnum, verdict: verdict)))
        abandonPrimaryRole(&effects)
        requestPing(&effects)
    }

    /// Tells every held or deferred client to go to the new primary.
    mutating func abandonPrimaryRole(_ effects: inout [ServerEffect]) {
        for token in pipeline.held.takeAll() { effects.append(.reply(token, .wrongServer)) }
        for item in pipeline.deferred { effects.append(.reply(item.token, .wrongServer)) }
        pipeline.deferred.removeAll(keepingCapacity: true)
        pipeline.endStream()
    }

    // MARK: - Tick

    mutating func tickReplication(_ effects: inout [ServerEffect]) {
        guard pipeline.stream != nil else { return }
        switch pipeline.stream!.tick(resendAfterTicks: config.resendAfterTicks) {
        case .none:
            break
        case .restartTransfer(let reason):
            restartTransfer(reason: reason, &effects)
            return
        case .resendChunks(let chunks, let round, let reason):
            let stream = pipeline.stream!
            // Refused, then taken at its resend: nothing is missing.
            guard let first = chunks.first else { return sendChunks(&effects) }
            for chunk in chunks {
                let id = BackupMessageID.chunk(
                    viewnum: chunk.viewnum, transferID: chunk.transferID, index: chunk.index, round: round)
                effects.append(.sendToBackup(address: stream.backup, id: id, .transfer(chunk)))
            }
            effects.append(
                .notice(.transferResumed(backup: stream.backup, fromChunk: first.index, reason: reason)))
            return
        case .resend(let batches, let reason):
            let stream = pipeline.stream!
            counters.batchesResent += UInt64(batches.count)
            for batch in batches {
                effects.append(.sendToBackup(address: stream.backup, id: stream.id(of: batch), .forward(batch)))
            }
            if !batches.isEmpty {
                effects.append(
                    .notice(.forwardResent(backup: stream.backup, batches: batches.count, reason: reason)))
            }
        }
        flush(&effects)
    }
}
