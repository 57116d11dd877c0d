import KVProtocol

/// The backup's side: taking the state and the updates of its view's primary only
/// (docs/DESIGN.md §3.3, §3.4).
extension ServerCore {
    /// Why a message from `from` for `viewnum` cannot be taken, or nil if it can.
    private mutating func checkSender(
        _ from: String, _ viewnum: UInt64, _ effects: inout [ServerEffect]
    ) -> BackupVerdict? {
        if viewnum > view.viewnum {
            // The primary has learned a view before us: ask the monitor now.
            requestPing(&effects)
            return .unknownView
        }
        if viewnum < view.viewnum || role != .backup || from != view.primary {
            return .rejected
        }
        return nil
    }

    mutating func receiveChunk(_ chunk: TransferChunk, _ token: ReplyToken, _ effects: inout [ServerEffect]) {
        if let verdict = checkSender(chunk.from, chunk.viewnum, &effects) {
            return answer(token, verdict, chunk.from, chunk.viewnum, &effects)
        }
        guard case .backup(let received) = duty else { preconditionFailure("checked: a backup") }
        let stream: IncomingStream
        switch IncomingStream.admit(chunk, after: received) {
        case .alreadyApplied:
            return answer(token, .accepted, chunk.from, chunk.viewnum, &effects)
        case .outOfOrder:
            return answer(token, .outOfOrder, chunk.from, chunk.viewnum, &effects)
        case .startsTransfer:
            // A new transfer replaces whatever this server held, and with it any claim.
            if data != .empty { data = .stale }
            storeMatchesLog = false
            store.reset()
            duplicates.removeAll()
            stream = IncomingStream(startedBy: chunk)
        case .continuesTransfer:
            var next = received!
            next.record(chunk)
            stream = next
        }
        duty = .backup(stream)
        for entry in chunk.entries {
            var stored = entry.value
            // A 0.1 primary's entries carry no revision: they count as revision 1.
            if stored.revision == 0 { stored.revision = 1 }
            store.put(entry.key, stored)
        }
        store.advanceRevision(to: max(chunk.revision, chunk.entries.isEmpty ? 0 : 1))
        for dup in chunk.duplicates { duplicates.record(clientID: dup.clientID, seq: dup.seq, reply: dup.reply) }
        if stream.complete {
            counters.transfersReceived += 1
            effects.append(.notice(.transferReceived(from: chunk.from, viewnum: chunk.viewnum, keys: store.count)))
            // On disk as one snapshot, with the claim it proves, before the last chunk is
            // acknowledged (the answer below waits for it): a crash before then leaves
            // the previous state, whole (docs/STORAGE.md).
            storeMatchesLog = true
            if config.durable {
                claim = StateClaim(role: .backup, view: view)
                lastLSN += 1
                effects.append(.persistSnapshot(lsn: lastLSN))
            }
        }
        answer(token, .accepted, chunk.from, chunk.viewnum, &effects)
    }

    mutating func receiveForward(_ batch: ForwardBatch, _ token: ReplyToken, _ effects: inout [ServerEffect]) {
        // A primary that asks for no lease holds none from this server, whatever view it
        // is in: heard even after this server has moved on (docs/DESIGN.md §3.14).
        if batch.lease == 0 {
            grants.released(viewnum: batch.viewnum, primary: batch.from)
        }
        if let verdict = checkSender(batch.from, batch.viewnum, &effects) {
            return answer(token, verdict, batch.from, batch.viewnum, &effects)
        }
        guard case .backup(var stream?) = duty else {
            return answer(token, .outOfOrder, batch.from, batch.viewnum, &effects)
        }
        switch stream.admit(batch) {
        case .alreadyApplied:
            // Only the latest batch's resend grants (or gives back): an older one's lease
            // is what a later batch has already replaced.
            let latest = batch.batchSeq + 1 == stream.nextBatchSeq
            answer(token, .accepted, batch.from, batch.viewnum, &effects, granting: latest ? batch.lease : nil)
        case .outOfOrder:
            answer(token, .outOfOrder, batch.from, batch.viewnum, &effects)
        case .next:
            for update in batch.updates { applyUpdate(update) }
            persist(updates: batch.updates, &effects)
            stream.record(batch)
            duty = .backup(stream)
            counters.batchesApplied += 1
            answer(token, .accepted, batch.from, batch.viewnum, &effects, granting: batch.lease)
        }
    }

    /// Answers the primary; an acceptance waits until the log holds everything applied so
    /// far, since the primary takes it as a promise that this backup can be promoted with it.
    /// `granting`: the lease that answer grants (0 gives back the primary's grants).
    private mutating func answer(
        _ token: ReplyToken, _ verdict: BackupVerdict, _ from: String, _ viewnum: UInt64,
        _ effects: inout [ServerEffect], granting lease: UInt64? = nil
    ) {
        if verdict != .accepted {
            effects.append(.notice(.rejectedFromPrimary(from: from, viewnum: viewnum, verdict: verdict)))
        }
        let ack = BackupAck(verdict: verdict, backupViewnum: view.viewnum)
        let grant = lease.map { LeaseGrant(viewnum: viewnum, primary: from, lease: $0) }
        if verdict == .accepted && persistedLSN < lastLSN {
            pendingAcks.append((token, ack, lastLSN, grant))
        } else {
            answerPrimary(token, ack, grant, &effects)
        }
    }

    /// Sends an answer, and records the lease it grants from now: the primary counts its
    /// lease from when its batch left, which was before.
    mutating func answerPrimary(
        _ token: ReplyToken, _ ack: BackupAck, _ grant: LeaseGrant?, _ effects: inout [ServerEffect]
    ) {
        if let grant { grants.answered(viewnum: grant.viewnum, primary: grant.primary, lease: grant.lease, at: clock) }
        effects.append(.answerPrimary(token, ack))
    }
}
