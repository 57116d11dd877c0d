import KVProtocol

/// Identifies a message the primary sent to its backup, so the reply can be matched.
public enum BackupMessageID: Hashable, Sendable {
    case batch(viewnum: UInt64, transferID: UInt64, batchSeq: UInt64)
    /// `round`: 0 for a chunk's first sending, then one more for each resend of the
    /// transfer's unacknowledged chunks (the primary's own count; not on the wire).
    case chunk(viewnum: UInt64, transferID: UInt64, index: UInt32, round: UInt32)
}

/// Everything that can happen to a server.
public enum ServerEvent: Sendable {
    /// A data request from a client.
    case clientRequest(ClientRequest, ReplyToken)
    /// A batch of updates from a primary (this server acting as backup).
    case forward(ForwardBatch, ReplyToken)
    /// A piece of state from a primary (this server acting as backup).
    case transfer(TransferChunk, ReplyToken)
    /// The monitor's answer to a ping.
    case viewFromMonitor(View)
    /// The backup's answer to a batch or chunk this server sent; nil when the transport
    /// gave up on it (connection lost, timeout).
    case backupReplied(BackupMessageID, BackupAck?)
    /// One ping interval has passed.
    case tick
    /// The server is shutting down: ask the monitor, in every ping from now on, to hand
    /// its role to another server. It keeps serving until a view relieves it.
    case leave
    /// The log holds every record up to this LSN as the fsync policy requires (synced
    /// under `always`, written under `everysec` and `no`).
    case persisted(upTo: UInt64)
    /// An operator accepts this server's data as the state to serve (see `DataState.adopted`).
    case adoptData
    /// The log's disk refused a write for want of space (true), or took the records that
    /// waited for it (false). Records wait meanwhile, and with them what waits for
    /// `.persisted`; a primary refuses new updates (docs/DESIGN.md §3.12).
    case diskFull(Bool)
}

/// What the runtime must do.
///
/// Replies and log records, one or two per update, are the effects that count. The large
/// cases, a message to the backup (once per batch, not per update) and a notice, are
/// `indirect`, so that an effect is no larger than the `.persist` case (88 bytes, not 392)
/// where every step moves its effects.
public enum ServerEffect: Equatable, Sendable {
    case reply(ReplyToken, ClientReply)
    /// The answer to a forward or transfer chunk received as backup.
    case answerPrimary(ReplyToken, BackupAck)
    /// Send a `.forward` or `.transfer` to the backup; report its answer as
    /// `.backupReplied(id, ...)`.
    indirect case sendToBackup(address: String, id: BackupMessageID, Message)
    /// Ping the monitor with this view number, now; `leaving` asks to be relieved of
    /// any role.
    case ping(viewnum: UInt64, leaving: Bool)
    /// Something worth a log line.
    indirect case notice(ServerNotice)
    /// Append this record to the log under this LSN (numbers follow each other without
    /// gaps); report with `.persisted` once it is on disk.
    case persist(DurableRecord, lsn: UInt64)
    /// Append these updates as records under consecutive LSNs from `firstLSN`: a backup's
    /// forward batch, whose updates the log takes from the batch's own array rather than
    /// one effect and one copy each.
    case persistUpdates([ForwardedUpdate], firstLSN: UInt64)
    /// Write the whole state as it is now (store, duplicate table, claim) as a snapshot
    /// that replaces every earlier record, under this LSN: a completed transfer, which a
    /// backup acknowledges only once `.persisted` reaches it.
    case persistSnapshot(lsn: UInt64)
}

public enum ServerNotice: Equatable, Sendable {
    case viewChanged(from: View, to: View)
    case roleChanged(from: ServerInfo.Role, to: ServerInfo.Role, view: View)
    /// Told to be primary without holding the current state (restarted, or dropped from
    /// the view earlier): refuses to serve, and pings 0 so the monitor promotes the backup.
    case refusedPrimary(view: View, reason: String)
    case transferStarted(backup: String, viewnum: UInt64, keys: Int, duplicates: Int)
    case transferCompleted(backup: String, viewnum: UInt64, keys: Int, bytes: Int, chunks: Int)
    case transferRestarted(backup: String, viewnum: UInt64, reason: String)
    /// The chunks not yet acknowledged were sent again, from `fromChunk` on, under the
    /// same transfer: the backup keeps what it took.
    case transferResumed(backup: String, fromChunk: UInt32, reason: String)
    case transferReceived(from: String, viewnum: UInt64, keys: Int)
    /// A peer the server must reach (`peer`: "monitor" or "backup", at `address`) has
    /// answered nothing for `seconds`; `reminder` when said before. From the driver.
    case peerUnreachable(peer: String, address: String, seconds: Double, reason: String, reminder: Bool)
    /// It answers again, after `seconds` of silence.
    case peerReachable(peer: String, address: String, seconds: Double)
    /// The backup refused a forward or chunk; this server stops answering as primary
    /// until it learns a newer view.
    case fenced(backup: String, viewnum: UInt64, verdict: BackupVerdict)
    /// A forward or chunk from a primary was refused.
    case rejectedFromPrimary(from: String, viewnum: UInt64, verdict: BackupVerdict)
    case forwardResent(backup: String, batches: Int, reason: String)
    /// Shutting down: from now on every ping asks the monitor for a view without it.
    case leaving(role: ServerInfo.Role, view: View)
    /// Named primary of a view after a restart, and took it: its data directory proves
    /// `claim` (docs/DESIGN.md §3.12).
    case revived(view: View, claim: StateClaim)
    /// An operator accepted the data this server holds as the state to serve.
    case adoptedData(keys: Int)
    /// `adoptData` refused: the server serves, or receives a transfer, already.
    case adoptRefused(reason: String)
    /// Named primary after the operator accepted its data: serves it, whatever it lacks.
    case servingAdoptedData(view: View, keys: Int)
    /// Named primary of `view`, but a lease it granted as backup may still be held for
    /// this long: it serves once that is over (docs/DESIGN.md §3.14).
    case waitingOutLease(view: View, milliseconds: UInt64)
    /// The log's disk is full: updates are refused until it takes writes again.
    case diskFull
    /// The log's disk takes writes again.
    case diskNoLongerFull
}
