import KVProtocol

/// The backup's side: accepting the state and the updates of its view's primary only.
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
            answer(token, verdict, chunk.from, chunk.viewnum, &effects)
            return
        }
        if chunk.index == 0, let stream = incoming, stream.viewnum == chunk.viewnum, stream.from == chunk.from,
            chunk.transferID <= stream.transferID
        {
            // Fix: a duplicated or delayed chunk 0 of the transfer already under way (or
            // done), or of an older one the primary has since restarted, must not restart
            // reception: that wiped the store, and after completion it also dropped the
            // forwarded updates the primary counts as held by this backup (so a promotion
            // could lose acknowledged writes). The primary never reuses a transfer id, so
            // the same id is a resend (already applied) and a smaller one is stale.
            let verdict: BackupVerdict = chunk.transferID == stream.transferID ? .accepted : .outOfOrder
            answer(token, verdict, chunk.from, chunk.viewnum, &effects)
            return
        }
        if chunk.index == 0 {
            // A new transfer replaces whatever this server held.
            store.removeAll()
            storeBytes = 0
            duplicates.removeAll()
            incoming = IncomingStream(viewnum: chunk.viewnum, from: chunk.from, transferID: chunk.transferID)
        } else {
            guard var stream = incoming, stream.viewnum == chunk.viewnum, stream.from == chunk.from,
                stream.transferID == chunk.transferID
            else {
                answer(token, .outOfOrder, chunk.from, chunk.viewnum, &effects)
                return
            }
            if chunk.index < stream.nextChunk {
                // A resend of a chunk already applied.
                answer(token, .accepted, chunk.from, chunk.viewnum, &effects)
                return
            }
            guard chunk.index == stream.nextChunk, !stream.complete else {
                answer(token, .outOfOrder, chunk.from, chunk.viewnum, &effects)
                return
            }
            stream.nextChunk += 1
            incoming = stream
        }
        for entry in chunk.entries { setValue(entry.value, for: entry.key) }
        for dup in chunk.duplicates { duplicates.record(clientID: dup.clientID, seq: dup.seq, reply: dup.reply) }
        incoming!.keys += chunk.entries.count
        if chunk.isLast {
            incoming!.complete = true
            counters.transfersReceived += 1
            effects.append(.notice(.transferReceived(from: chunk.from, viewnum: chunk.viewnum, keys: store.count)))
        }
        answer(token, .accepted, chunk.from, chunk.viewnum, &effects)
    }

    mutating func receiveForward(_ batch: ForwardBatch, _ token: ReplyToken, _ effects: inout [ServerEffect]) {
        if let verdict = checkSender(batch.from, batch.viewnum, &effects) {
            answer(token, verdict, batch.from, batch.viewnum, &effects)
            return
        }
        guard var stream = incoming, stream.complete, stream.viewnum == batch.viewnum, stream.from == batch.from,
            stream.transferID == batch.transferID
        else {
            answer(token, .outOfOrder, batch.from, batch.viewnum, &effects)
            return
        }
        if batch.batchSeq < stream.nextBatchSeq {
            answer(token, .accepted, batch.from, batch.viewnum, &effects)
            return
        }
        guard batch.batchSeq == stream.nextBatchSeq else {
            answer(token, .outOfOrder, batch.from, batch.viewnum, &effects)
            return
        }
        for update in batch.updates {
            applyUpdate(update)
        }
        stream.nextBatchSeq += 1
        counters.batchesApplied += 1
        incoming = stream
        answer(token, .accepted, batch.from, batch.viewnum, &effects)
    }

    private func answer(
        _ token: ReplyToken, _ verdict: BackupVerdict, _ from: String, _ viewnum: UInt64,
        _ effects: inout [ServerEffect]
    ) {
        if verdict != .accepted {
            effects.append(.notice(.rejectedFromPrimary(from: from, viewnum: viewnum, verdict: verdict)))
        }
        effects.append(.answerPrimary(token, BackupAck(verdict: verdict, backupViewnum: view.viewnum)))
    }
}
