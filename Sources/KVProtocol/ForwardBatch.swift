/// The effect of one update, as the primary applied it, with the reply it produced.
///
/// The primary forwards effects rather than operations (a PutHash travels as the value
/// it computed, an EX as its deadline), so the backup can never compute something
/// different.
public struct ForwardedUpdate: Equatable, Sendable {
    public var change: StoreChange
    /// The store revision after this update (unchanged by a `.none` change).
    public var revision: UInt64
    /// 0 for an update no client asked for (a key's expiry): it has no at-most-once entry.
    public var clientID: UInt64
    public var seq: UInt64
    /// What the client was (or will be) told; kept in the duplicate table.
    public var reply: ClientReply

    public init(change: StoreChange, revision: UInt64, clientID: UInt64, seq: UInt64, reply: ClientReply) {
        self.change = change
        self.revision = revision
        self.clientID = clientID
        self.seq = seq
        self.reply = reply
    }

    /// The client id of updates no client asked for.
    public static let noClient: UInt64 = 0
}

/// Updates the primary sends its backup in one message.
///
/// `batchSeq` numbers the batches of one (view, transfer) stream from 1, so the backup
/// applies each exactly once and in order whatever the transport does. A batch with no
/// updates still proves that the backup accepts this primary for this view, which is
/// what confirms a Get.
public struct ForwardBatch: Equatable, Sendable {
    public var viewnum: UInt64
    public var from: String
    public var transferID: UInt64
    public var batchSeq: UInt64
    /// The read lease the primary asks for, in nanoseconds: the backup's acceptance
    /// promises not to act as primary for this long after it answers (docs/DESIGN.md
    /// §3.14). 0 asks for none and gives back every lease this primary held.
    public var lease: UInt64
    public var updates: [ForwardedUpdate]

    public init(
        viewnum: UInt64, from: String, transferID: UInt64, batchSeq: UInt64, lease: UInt64 = 0,
        updates: [ForwardedUpdate]
    ) {
        self.viewnum = viewnum
        self.from = from
        self.transferID = transferID
        self.batchSeq = batchSeq
        self.lease = lease
        self.updates = updates
    }
}

/// The backup's answer to a forward or a transfer chunk.
public enum BackupVerdict: UInt8, Sendable, CustomStringConvertible {
    /// Applied (or already applied: a resend).
    case accepted = 0
    /// The backup does not know this view yet; it is asking the monitor. Resend later.
    case unknownView = 1
    /// The backup's view is newer, or it is not this view's backup, or the sender is not
    /// this view's primary. The sender must stop acting as primary of this view.
    case rejected = 2
    /// Out of order (a gap in batch or chunk numbers, or an unknown transfer): resend from
    /// the oldest unacknowledged message, or restart the transfer.
    case outOfOrder = 3

    public var description: String {
        switch self {
        case .accepted: "accepted"
        case .unknownView: "unknown view"
        case .rejected: "rejected"
        case .outOfOrder: "out of order"
        }
    }
}

public struct BackupAck: Equatable, Sendable {
    public var verdict: BackupVerdict
    /// The backup's current view number (for the primary's logs and decisions).
    public var backupViewnum: UInt64

    public init(verdict: BackupVerdict, backupViewnum: UInt64) {
        self.verdict = verdict
        self.backupViewnum = backupViewnum
    }
}
