import KVProtocol

/// The primary's side: answering clients, batching updates to the backup, transferring
/// the state to a new backup, and releasing replies as the backup acknowledges
/// (docs/DESIGN.md §3.2, §3.4, §3.5, §3.9).
extension ServerCore {
    // MARK: - Client requests

    mutating func handleClientRequest(_ request: ClientRequest, _ token: ReplyToken, _ effects: inout [ServerEffect]) {
        counters.requests += 1
        guard
            duty == .primary(.serving) || duty == .primary(.awaitingFirstAck) || duty == .primary(.waitingOutLease)
        else {
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
        if duty != .primary(.serving) || mustDefer || heldIsFull {
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
    /// A read is served, its reply held until the log holds what it saw (rule D1); so is a
    /// transaction that only reads.
    private func refusedForFullDisk(_ request: ClientRequest) -> Bool {
        diskFull && request.mayWrite
    }

    static func validate(_ request: ClientRequest) -> String? {
        // Decoded transactions passed these checks in the codec; one built in-process
        // (the Redis endpoint's) has not.
        if let txn = request.txn, let problem = txn.problem { return problem }
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
        pipeline.heldCount >= config.maxWaitingReplies
    }

    /// Applies `request` to the store and holds its reply behind the open batch.
    private mutating func apply(_ request: ClientRequest, _ token: ReplyToken, _ effects: inout [ServerEffect]) {
        expireTouchedKeys(of: request, &effects)
        let reply: ClientReply
        var passedOver: [Bytes] = []
        if request.op == .get {
            // One probe for the value and its revision (the lease's question).
            let found = store.liveValueAndRevision(request.key, at: now)
            reply = found.map { ClientReply(status: .ok, value: $0.value) } ?? ClientReply(status: .noKey)
            let revision = found?.revision ?? store.revision(of: request.key)
            if answeredUnderLease(reply, key: request.key, revision: revision, token, &effects) { return }
        } else if !request.mayWrite {
            (reply, passedOver) = read(request)
        } else if let seen = duplicates.lookup(request.clientID), request.seq <= seen.seq {
            // A retry: answer as the first time, never apply twice. The answer still waits
            // for the backup, since the first attempt may not be acknowledged yet.
            reply = request.seq == seen.seq ? seen.reply : ClientReply(status: .staleRequest)
        } else if request.op == .txn {
            // Applied to the store as it runs: only the at-most-once entry is left to record.
            let (change, result, expired) = transact(request)
            reply = result
            passedOver = expired
            let update = ForwardedUpdate(
                change: change, revision: store.revision, clientID: request.clientID, seq: request.seq, reply: reply)
            duplicates.record(clientID: request.clientID, seq: request.seq, reply: reply)
            enqueueForBackup(update, &effects)
            persist(taking: update, &effects)
        } else {
            // One update, built once and never copied out of an optional: each copy of it
            // retains its key, value and reply (a few hundred instructions per SET).
            let (change, result) = decide(request)
            reply = result
            let changesNothing = if case .none = change { true } else { false }
            let update = ForwardedUpdate(
                change: change, revision: changesNothing ? store.revision : store.revision + 1,
                clientID: request.clientID, seq: request.seq, reply: reply)
            applyUpdate(update)
            enqueueForBackup(update, &effects)
            persist(taking: update, &effects)
        }
        // Keys a range passed over as expired go the way of the keys a request names,
        // before the reply can leave.
        let due = passedOver.filter { store.isExpired($0, at: now) }
        if !due.isEmpty { expire(due, &effects) }
        hold(reply, for: token, &effects)
    }

    /// A Get while the read lease holds: answered at once if its key's last update is
    /// settled, or held for the batch in flight that carries that update. False when the
    /// lease does not hold or the update is still in the open batch: the Get then waits
    /// for the backup as it does without a lease (docs/DESIGN.md §3.14).
    /// `revision`: the key's in the store, if it holds it.
    private mutating func answeredUnderLease(
        _ reply: ClientReply, key: Bytes, revision: UInt64?, _ token: ReplyToken, _ effects: inout [ServerEffect]
    ) -> Bool {
        guard readLease.holds(at: clock), pipeline.stream?.isStreaming == true else { return false }
        guard let last = pipeline.settled.unsettledRevision(of: key, present: revision) else {
            counters.leaseReads += 1
            effects.append(.reply(token, reply))
            return true
        }
        guard let batch = pipeline.settled.batch(carrying: last) else { return false }
        pipeline.heldForBatchInFlight.hold(reply, for: token, untilBatch: batch.seq, durableAt: batch.lsn)
        return true
    }

    /// Adds an update to the open batch. A batch must fit in a frame: one that this
    /// update would take past `Limits.maxBatchFrameBytes` leaves first, even beyond the
    /// window of batches in flight (a step adds at most a transaction and its expiries,
    /// each bounded, so the window is overrun by a batch or two at most).
    private mutating func enqueueForBackup(_ update: ForwardedUpdate, _ effects: inout [ServerEffect]) {
        guard pipeline.stream != nil else { return }
        if config.readLease > 0 { pipeline.settled.applied(update.change, revision: update.revision) }
        let size = update.encodedSize
        if !pipeline.openUpdates.isEmpty, pipeline.openBytes + size > Limits.maxBatchFrameBytes,
            pipeline.stream!.isStreaming
        {
            sendOpenBatch(&effects)
        }
        pipeline.openUpdates.append(update)
        pipeline.openBytes += size
    }

    /// A transaction of reads: the reply, and the keys a range passed over as expired.
    private mutating func read(_ request: ClientRequest) -> (ClientReply, [Bytes]) {
        var execution = TxnExecution(revision: store.revision, now: now)
        let reply = ClientReply(outcome: execution.run(request.txn ?? Txn(success: []), on: &store))
        let sized = reply.encodedSize <= Limits.maxTransactionBytes ? reply : Self.tooLarge(reply.encodedSize)
        return (sized, execution.expiredSeen)
    }

    /// What an update changes and what its client is told, decided against the store.
    private func decide(_ request: ClientRequest) -> (StoreChange, ClientReply) {
        let revision = store.revision + 1
        switch request.op {
        case .put:
            return (.put(request.key, StoredValue(value: request.value, revision: revision)), ClientReply(status: .ok))
        case .putHash:
            let previous = store.liveValue(request.key, at: now)
            let newValue = PutHash.newValue(previous: previous ?? [], argument: request.value)
            return (
                .put(request.key, StoredValue(value: newValue, revision: revision)),
                ClientReply(status: .ok, value: previous ?? [])
            )
        case .delete:
            guard store.contains(request.key) else { return (.none, ClientReply(status: .noKey)) }
            let found = !store.isExpired(request.key, at: now)
            return (.delete(request.key), ClientReply(status: found ? .ok : .noKey))
        case .txn, .get:
            preconditionFailure("transactions and reads are not decided here")
        }
    }

    /// Runs a transaction on the store, in place, and returns its change and reply; one
    /// whose change and results could not travel in one forward is undone and refused.
    private mutating func transact(_ request: ClientRequest) -> (StoreChange, ClientReply, expired: [Bytes]) {
        var execution = TxnExecution(revision: store.revision, now: now)
        let reply = ClientReply(outcome: execution.run(request.txn ?? Txn(success: []), on: &store))
        let size = execution.change.encodedSize + reply.encodedSize
        guard size <= Limits.maxTransactionBytes else {
            execution.rollBack(&store)
            return (.none, Self.tooLarge(size), [])
        }
        return (execution.change, reply, execution.expiredSeen)
    }

    private static func tooLarge(_ size: Int) -> ClientReply {
        ClientReply(
            status: .invalid,
            value: Bytes(
                utf8: "the transaction's changes and results take \(size) bytes, more than the "
                    + "\(Limits.maxTransactionBytes) one transaction may; ask for fewer keys at a time"))
    }

    /// Deletes, as updates of their own, the keys a request touches whose deadline has
    /// passed: a read of one then waits for its deletion to reach the backup, so no later
    /// primary, whatever its clock, can show the key again (docs/DESIGN.md §3.13).
    private mutating func expireTouchedKeys(of request: ClientRequest, _ effects: inout [ServerEffect]) {
        guard store.expiring > 0 else { return }
        if let txn = request.txn {
            let expired = txn.keys.filter { store.isExpired($0, at: now) }
            if !expired.isEmpty { expire(expired, &effects) }
        } else if store.isExpired(request.key, at: now) {
            expire([request.key], &effects)
        }
    }

    /// Deletes expired keys by updates that no client asked for, each of at most
    /// `maxExpiryUpdateBytes` of keys, so that none outgrows a frame or a log record.
    mutating func expire(_ keys: [Bytes], _ effects: inout [ServerEffect]) {
        var start = 0
        while start < keys.count {
            var end = start
            var bytes = 0
            while end < keys.count, end == start || bytes + keys[end].count <= Self.maxExpiryUpdateBytes {
                bytes += keys[end].count + 5
                end += 1
            }
            let part = keys[start..<end]
            let change: StoreChange = part.count == 1 ? .delete(part.first!) : .several(part.map { .delete($0) })
            let update = ForwardedUpdate(
                change: change, revision: store.revision + 1, clientID: ForwardedUpdate.noClient, seq: 0,
                reply: ClientReply(status: .ok))
            applyUpdate(update)
            counters.keysExpired += UInt64(part.count)
            enqueueForBackup(update, &effects)
            persist(taking: update, &effects)
            start = end
        }
    }

    static let maxExpiryUpdateBytes = 1 << 20

    /// Holds `reply` until the backup has the open batch (with the request's update and
    /// any expiry before it) and the log has everything so far.
    private mutating func hold(_ reply: ClientReply, for token: ReplyToken, _ effects: inout [ServerEffect]) {
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
        let persisted = config.durable ? persistedLSN : .max
        pipeline.held.release(batches: batches, persisted: persisted, &effects)
        pipeline.heldForBatchInFlight.release(batches: batches, persisted: persisted, &effects)
        if let batches { pipeline.settled.settle(acked: batches, persisted: persisted) }
    }

    mutating func applyUpdate(_ update: ForwardedUpdate) {
        store.apply(update.change, revision: update.revision)
        guard update.clientID != ForwardedUpdate.noClient else { return }
        duplicates.record(clientID: update.clientID, seq: update.seq, reply: update.reply)
    }

    /// As primary, at each tick: deletes a bounded number of keys whose deadline has
    /// passed, as Redis's active expiry does, so keys nobody reads again do not stay.
    /// Not during a transfer, whose cursor needs the store unchanged.
    mutating func expireDueKeys(_ effects: inout [ServerEffect]) {
        // Nor while the disk is full: the records would wait in memory for space, as many
        // as keys fall due. A read of an expired key still deletes it (its reply waits
        // for the record, as any reply does).
        guard isServing, !diskFull, store.expiring > 0, pipeline.stream?.isStreaming != false else { return }
        let due = store.expired(at: now, limit: config.expiriesPerTick)
        guard !due.isEmpty else { return }
        expire(due, &effects)
        if pipeline.stream != nil { pipeline.stream!.openNeeded = true }
        flush(&effects)
    }

    /// Sends the open batch if the stream may take it now.
    mutating func flush(_ effects: inout [ServerEffect]) {
        guard
            pipeline.stream?.mayFlush(
                openUpdates: pipeline.openUpdates.count, openBytes: pipeline.openBytes, config: config) == true
        else { return }
        sendOpenBatch(&effects)
    }

    /// Sends the open batch now.
    private mutating func sendOpenBatch(_ effects: inout [ServerEffect]) {
        let lease = readLease == .givenBack ? 0 : config.readLease
        let batch = pipeline.stream!.send(pipeline.openUpdates, from: address, lease: lease)
        if config.readLease > 0 {
            // The revision its last update carries, not the store's: an update that would
            // have taken this batch past a frame is applied already, and goes in the next.
            let revision = batch.updates.last?.revision ?? 0
            pipeline.settled.sent(seq: batch.batchSeq, revision: revision, lsn: lastLSN, at: clock)
        }
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
        pipeline.heldForBatchInFlight.waitForTransfer()
        pipeline.endStream()
        pipeline.settled = SettledUpdates(untrackedUpTo: store.revision)
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
            case .acknowledged(let seq):
                // From when the batch left, not when its answer came: the backup's promise
                // runs from its answer, which came after the batch left.
                if let sentAt = pipeline.settled.sentAt(seq) {
                    readLease.extend(sentAt: sentAt, by: config.leaseRunsFor)
                }
                // The next batch first: the backup's turn (apply, log, sync) is what the
                // requests in it wait for, and it need not wait behind this batch's
                // replies, which the driver writes in effect order.
                flush(&effects)
                releaseHeld(&effects)
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
                // The transfer carried everything the store holds.
                if config.readLease > 0 {
                    pipeline.settled.sent(seq: 0, revision: store.revision, lsn: lastLSN, at: clock)
                }
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
        readLease = .none
        effects.append(.notice(.fenced(backup: backup, viewnum: view.viewnum, verdict: verdict)))
        abandonPrimaryRole(&effects)
        requestPing(&effects)
    }

    /// Tells every held or deferred client to go to the new primary.
    mutating func abandonPrimaryRole(_ effects: inout [ServerEffect]) {
        readLease = .none
        for token in pipeline.held.takeAll() { effects.append(.reply(token, .wrongServer)) }
        for token in pipeline.heldForBatchInFlight.takeAll() { effects.append(.reply(token, .wrongServer)) }
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
        renewLeaseIfIdle()
        flush(&effects)
    }

    /// An idle primary renews its lease with an empty batch once less than half is left,
    /// so that Gets after a quiet spell are still answered on their own.
    private mutating func renewLeaseIfIdle() {
        guard config.readLease > 0, isServing, pipeline.stream?.isStreaming == true,
            pipeline.stream!.inFlight.isEmpty, readLease != .givenBack
        else { return }
        if case .held(let until) = readLease, until > clock + config.readLease / 2 { return }
        pipeline.stream!.openNeeded = true
    }

    // MARK: - Giving the lease back

    /// Leaving: the lease is dropped and given back at once, with a batch asking for
    /// none, so that the backup's promotion does not wait it out (docs/DESIGN.md §3.14).
    mutating func giveBackLease(_ effects: inout [ServerEffect]) {
        guard isServing, config.readLease > 0 else { return }
        readLease = .givenBack
        guard pipeline.stream?.isStreaming == true else { return }
        pipeline.stream!.openNeeded = true
        flush(&effects)
    }

    /// A primary that learns it is no longer primary gives back the lease of the view it
    /// leaves (a switchover's new primary waits for nothing else): it answers nothing in
    /// that view any more. A forward asking for no lease, which the backup takes even
    /// after it has moved on to the next view.
    mutating func releaseBackupOfOldView(_ effects: inout [ServerEffect]) {
        guard config.readLease > 0, let stream = pipeline.stream, stream.isStreaming else { return }
        let release = ForwardBatch(
            viewnum: stream.viewnum, from: address, transferID: stream.transferID, batchSeq: stream.nextBatchSeq,
            lease: 0, updates: [])
        effects.append(.sendToBackup(address: stream.backup, id: stream.id(of: release), .forward(release)))
    }
}
