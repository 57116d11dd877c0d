/// One entry of the at-most-once duplicate table: a client's latest update and its reply.
public struct DuplicateEntry: Equatable, Sendable {
    public var clientID: UInt64
    public var seq: UInt64
    public var reply: ClientReply

    public init(clientID: UInt64, seq: UInt64, reply: ClientReply) {
        self.clientID = clientID
        self.seq = seq
        self.reply = reply
    }
}

/// A piece of the primary's whole state, sent to a new backup.
///
/// Chunk 0 tells the backup to discard what it holds; the chunk marked `isLast` completes
/// the transfer, after which the backup accepts forwards of this view and transfer.
/// Duplicate-table entries travel in the order of the table's eviction list so that
/// primary and backup evict the same clients afterwards.
public struct TransferChunk: Equatable, Sendable {
    public var viewnum: UInt64
    public var from: String
    public var transferID: UInt64
    public var index: UInt32
    public var isLast: Bool
    /// The primary's store revision (which deletes advance too, so it is not the highest
    /// of the entries'); 0 from a 0.1 primary.
    public var revision: UInt64
    public var entries: [(key: Bytes, value: StoredValue)]
    public var duplicates: [DuplicateEntry]

    public init(
        viewnum: UInt64, from: String, transferID: UInt64, index: UInt32, isLast: Bool, revision: UInt64,
        entries: [(key: Bytes, value: StoredValue)], duplicates: [DuplicateEntry]
    ) {
        self.viewnum = viewnum
        self.from = from
        self.transferID = transferID
        self.index = index
        self.isLast = isLast
        self.revision = revision
        self.entries = entries
        self.duplicates = duplicates
    }

    public static func == (lhs: TransferChunk, rhs: TransferChunk) -> Bool {
        lhs.viewnum == rhs.viewnum && lhs.from == rhs.from && lhs.transferID == rhs.transferID
            && lhs.index == rhs.index && lhs.isLast == rhs.isLast && lhs.revision == rhs.revision
            && lhs.duplicates == rhs.duplicates
            && lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
