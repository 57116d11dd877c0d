import KVProtocol

/// The primary's side: answering clients, batching updates to the backup, transferring
/// the state to a new backup, and releasing replies as the backup acknowledges.
extension ServerCore {
    // MARK: - Client requests

    mutating func handleClientRequest(_ request: ClientRequest, _ token: ReplyToken, _ effects: inout [ServerEffect]) {
        counters.requests += 1
        guard role == .primary, data == .current || awaitingFirstAck, refusedViewnum != view.viewnum,
            fencedViewnum != view.viewnum
        else {
            effects.append(.reply(token, .wrongServer))
            return
        }
        if let problem = Self.validate(request) {
            effects.append(.reply(token, ClientReply(status: .invalid, value: Bytes(utf8: problem))))
            return
        }
        if awaitingFirstAck || mustDefer || waitingIsFull {
            guard deferred.count < config.maxDeferredRequests else {
                effects.append(.reply(token, .retryLater))
                return
            }
            deferred.append((request, token))
            return
        }
        apply(request, token, &effects)
        flush(&effects)
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
        guard let outgoing else { return false }
        guard outgoing.isStreaming else { return true }
        return outgoing.inFlight.count >= config.maxBatchesInFlight
            && (openBytes >= config.maxBatchBytes || openUpdates.count >= config.maxBatchUpdates)
    }

    /// Replies waiting for the backup are bounded too: reads and retries add none to a
    /// batch, so without this a stalled backup would let them pile up without limit.
    private var waitingIsFull: Bool {
        outgoing != nil && pendingReplies >= config.maxWaitingReplies
    }

    /// Applies `request` to the store and queues its reply behind the open batch.
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
        }

        guard outgoing != nil else {
            // No backup in this view: nobody else can be promoted, so answer now.
            effects.append(.reply(token, reply))
            return
        }
        if let update {
            openUpdates.append(update)
            openBytes += update.encodedSize
        }
        outgoing!.openNeeded = true
        waiting.append(WaitingReply(releaseAt: outgoing!.nextBatchSeq, token: token, reply: reply))
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

    /// Sends the open batch if the window has room and, while another batch is in flight,
    /// once the open one is big enough to be worth a second round trip (see
    /// `ServerConfig.pipelineAfterBytes`).
    private mutating func flush(_ effects: inout [ServerEffect]) {
        guard let stream = outgoing, stream.isStreaming, stream.openNeeded,
            stream.inFlight.count < config.maxBatchesInFlight,
            stream.inFlight.isEmpty || openBytes >= min(config.pipelineAfterBytes, config.maxBatchBytes)
                || openUpdates.count >= min(config.pipelineAfterUpdates, config.maxBatchUpdates)
        else { return }
        let batch = ForwardBatch(
            viewnum: stream.viewnum, from: address, transferID: stream.transferID, batchSeq: stream.nextBatchSeq,
            updates: openUpdates)
        if stream.inFlight.isEmpty { outgoing!.ticksSinceProgress = 0 }
        outgoing!.inFlight.append(batch)
        outgoing!.nextBatchSeq += 1
        counters.batchesSent += 1
        openUpdates = []
        openBytes = 0
        outgoing!.openNeeded = false
        effects.append(
            .sendToBackup(
                address: stream.backup,
                id: .batch(viewnum: batch.viewnum, transferID: batch.transferID, batchSeq: batch.batchSeq),
                .forward(batch)))
    }

    /// Handles requests held during a transfer or a full window, while they can proceed.
    private mutating func drainDeferred(_ effects: inout [ServerEffect]) {
        var index = 0
        while index < deferred.count, isServing, !mustDefer, !waitingIsFull {
            let item = deferred[index]
            index += 1
            apply(item.request, item.token, &effects)
            // Close the open batch once it is full, or everything held during a transfer
            // would leave as one batch larger than a frame may be.
            if let stream = outgoing,
                stream.inFlight.isEmpty || openBytes >= config.maxBatchBytes
                    || openUpdates.count >= config.maxBatchUpdates
            {
                flush(&effects)
            }
        }
        deferred.removeFirst(index)
        flush(&effects)
    }

    /// Releases every waiting reply whose batch the backup has applied.
    private mutating func release(upTo seq: UInt64, _ effects: inout [ServerEffect]) {
        while waitingHead < waiting.count, waiting[waitingHead].releaseAt <= seq {
            effects.append(.reply(waiting[waitingHead].token, waiting[waitingHead].reply))
            waitingHead += 1
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        } else if waitingHead > 1024 && waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
    }

    // MARK: - Starting a view as primary

    /// Begins replication for the current view: a transfer when it has a backup, or
    /// direct service when it has none.
    mutating func startReplication(_ effects: inout [ServerEffect]) {
        // Replies held for the previous backup: their updates are in the store, so they
        // reach the new backup with the transfer (batch 0), or need nobody when there is
        // no backup.
        for index in waitingHead..<waiting.count { waiting[index].releaseAt = 0 }
        endStream()
        guard !view.backup.isEmpty else {
            release(upTo: .max, &effects)
            ackedViewnum = view.viewnum
            requestPing(&effects)
            drainDeferred(&effects)
            return
        }
        outgoing = OutgoingStream(
            viewnum: view.viewnum, backup: view.backup, transferID: nextTransferID,
            phase: .transferring(TransferProgress(cursor: store.startIndex, duplicates: duplicates.entriesInOrder())))
        nextTransferID += 1
        counters.transfersStarted += 1
        effects.append(
            .notice(
                .transferStarted(
                    backup: view.backup, viewnum: view.viewnum, keys: store.count, duplicates: duplicates.count)))
        sendChunks(&effects)
    }

    /// Sends chunks while the transfer window has room.
    private mutating func sendChunks(_ effects: inout [ServerEffect]) {
        guard var stream = outgoing, case .transferring(var progress) = stream.phase else { return }
        while progress.chunksInFlight < config.transferWindow && !progress.sentLast {
            var entries: [(key: Bytes, value: Bytes)] = []
            var bytes = 0
            while progress.cursor != store.endIndex && bytes < config.transferChunkBytes {
                let (key, value) = store[progress.cursor]
                entries.append((key, value))
                bytes += TransferChunk.encodedSize(key: key, value: value)
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
                viewnum: stream.viewnum, from: address, transferID: stream.transferID, index: progress.nextIndex,
                isLast: isLast, entries: entries, duplicates: dups)
            progress.keysSent += entries.count
            progress.bytesSent += bytes
            progress.sentLast = isLast
            progress.chunksInFlight += 1
            progress.nextIndex += 1
            effects.append(
                .sendToBackup(
                    address: stream.backup,
                    id: .chunk(viewnum: stream.viewnum, transferID: stream.transferID, index: chunk.index),
                    .transfer(chunk)))
        }
        stream.phase = .transferring(progress)
        outgoing = stream
    }

    /// Starts the transfer again from the first chunk, under a new transfer id so the
    /// backup discards what it received of the failed one.
    private mutating func restartTransfer(reason: String, _ effects: inout [ServerEffect]) {
        guard var stream = outgoing else { return }
        stream.transferID = nextTransferID
        nextTransferID += 1
        counters.transfersStarted += 1
        stream.phase = .transferring(
            TransferProgress(cursor: store.startIndex, duplicates: duplicates.entriesInOrder()))
        stream.ticksSinceProgress = 0
        outgoing = stream
        effects.append(.notice(.transferRestarted(backup: stream.backup, viewnum: stream.viewnum, reason: reason)))
        sendChunks(&effects)
    }

    // MARK: - Backup replies

    mutating func handleBackupReply(_ id: BackupMessageID, _ ack: BackupAck?, _ effects: inout [ServerEffect]) {
        guard var stream = outgoing else { return }
        switch id {
        case .batch(let viewnum, let transferID, let seq):
            guard viewnum == stream.viewnum, transferID == stream.transferID, stream.isStreaming else { return }
            guard let ack else {
                stream.needsResend = true
                outgoing = stream
                return
            }
            switch ack.verdict {
            case .accepted:
                guard seq > stream.ackedSeq else { return }
                stream.ackedSeq = seq
                stream.inFlight.removeAll { $0.batchSeq <= seq }
                stream.ticksSinceProgress = 0
                outgoing = stream
                release(upTo: seq, &effects)
                flush(&effects)
                drainDeferred(&effects)
            case .unknownView, .outOfOrder:
                stream.needsResend = true
                outgoing = stream
            case .rejected:
                fence(verdict: ack.verdict, &effects)
            }
        case .chunk(let viewnum, let transferID, let index):
            guard viewnum == stream.viewnum, transferID == stream.transferID,
                case .transferring(var progress) = stream.phase
            else { return }
            guard let ack, ack.verdict != .unknownView, ack.verdict != .outOfOrder else {
                progress.restartPending = true
                stream.phase = .transferring(progress)
                outgoing = stream
                return
            }
            if ack.verdict == .rejected {
                fence(verdict: ack.verdict, &effects)
                return
            }
            progress.chunksInFlight -= 1
            stream.ticksSinceProgress = 0
            if progress.sentLast && index == progress.nextIndex - 1 {
                stream.phase = .streaming
                stream.ackedSeq = 0
                outgoing = stream
                effects.append(
                    .notice(
                        .transferCompleted(
                            backup: stream.backup, viewnum: stream.viewnum, keys: progress.keysSent,
                            bytes: progress.bytesSent, chunks: Int(progress.nextIndex))))
                ackedViewnum = stream.viewnum
                counters.transfersCompleted += 1
                release(upTo: 0, &effects)
                requestPing(&effects)
                drainDeferred(&effects)
            } else {
                stream.phase = .transferring(progress)
                outgoing = stream
                sendChunks(&effects)
            }
        }
    }

    /// The backup refused this primary: another view has begun. Stop answering until
    /// the monitor says what it is.
    private mutating func fence(verdict: BackupVerdict, _ effects: inout [ServerEffect]) {
        let backup = outgoing?.backup ?? ""
        fencedViewnum = view.viewnum
        effects.append(.notice(.fenced(backup: backup, viewnum: view.viewnum, verdict: verdict)))
        abandonPrimaryRole(&effects)
        requestPing(&effects)
    }

    // MARK: - Tick

    mutating func tickReplication(_ effects: inout [ServerEffect]) {
        guard var stream = outgoing else { return }
        stream.ticksSinceProgress += 1
        switch stream.phase {
        case .transferring(let progress):
            outgoing = stream
            if progress.restartPending || stream.ticksSinceProgress >= config.resendAfterTicks {
                restartTransfer(reason: progress.restartPending ? "backup did not take a chunk" : "no answer", &effects)
            }
        case .streaming:
            let stalled = !stream.inFlight.isEmpty && stream.ticksSinceProgress >= config.resendAfterTicks
            if stream.needsResend || stalled {
                stream.needsResend = false
                stream.ticksSinceProgress = 0
                counters.batchesResent += UInt64(stream.inFlight.count)
                for batch in stream.inFlight {
                    effects.append(
                        .sendToBackup(
                            address: stream.backup,
                            id: .batch(viewnum: batch.viewnum, transferID: batch.transferID, batchSeq: batch.batchSeq),
                            .forward(batch)))
                }
                if !stream.inFlight.isEmpty {
                    effects.append(
                        .notice(
                            .forwardResent(
                                backup: stream.backup, batches: stream.inFlight.count,
                                reason: stalled ? "no answer" : "backup did not take a batch")))
                }
            }
            outgoing = stream
            flush(&effects)
        }
    }
}
