import KVProtocol

/// Which of a primary's updates are settled: acknowledged by the backup and, with a data
/// directory, in the primary's own log. A read under the lease may reveal a key only when
/// the key's last update is settled; anything later, a crash or a power cut of both
/// servers could still take back (docs/DESIGN.md §3.14).
///
/// A key the store holds carries the revision of its last update. A deletion leaves
/// nothing in the store, so the deletions not yet settled are kept here, and so is the
/// last clearing of the whole store. One per stream to a backup: a new backup's transfer
/// settles everything the store holds once it completes.
struct SettledUpdates {
    /// A batch sent to the backup: its number, the revision and log record of its last
    /// update, and when it first left (on the lease clock).
    struct Batch {
        let seq: UInt64
        let revision: UInt64
        let lsn: UInt64
        let sentAt: UInt64
    }

    /// Every update up to this revision is settled.
    private(set) var revision: UInt64 = 0
    /// Batches sent and not settled, oldest first.
    private var batches = FIFOQueue<Batch>()
    /// Keys deleted by an update not yet settled, with its revision; `deletions` lists
    /// them in revision order, to forget them once settled.
    private var deleted: [Bytes: UInt64] = [:]
    private var deletions = FIFOQueue<(key: Bytes, revision: UInt64)>()
    /// The revision of the last update that deleted every key.
    private var clearedAt: UInt64 = 0
    /// The store's revision when the stream began: a key absent then may have been deleted
    /// by any update up to it (this stream's tracking does not know which).
    private let untrackedUpTo: UInt64

    init(untrackedUpTo revision: UInt64 = 0) {
        untrackedUpTo = revision
    }

    /// The revision of the last update sent (0 before any).
    var lastSentRevision: UInt64 { batches.last?.revision ?? revision }

    /// `seq` left at `clock`, carrying the updates up to `revision` and log records up to `lsn`.
    mutating func sent(seq: UInt64, revision: UInt64, lsn: UInt64, at clock: UInt64) {
        batches.append(Batch(seq: seq, revision: max(revision, lastSentRevision), lsn: lsn, sentAt: clock))
    }

    /// When batch `seq` first left, if it is not settled yet.
    func sentAt(_ seq: UInt64) -> UInt64? {
        batches.queued.first { $0.seq == seq }?.sentAt
    }

    /// The backup has applied the batches up to `acked`, and the log holds the records up
    /// to `persisted`.
    mutating func settle(acked: UInt64, persisted: UInt64) {
        while let batch = batches.first, batch.seq <= acked, batch.lsn <= persisted {
            revision = max(revision, batch.revision)
            batches.removeFirst()
        }
        while let (key, deletedAt) = deletions.first, deletedAt <= revision {
            if deleted[key] == deletedAt { deleted[key] = nil }
            deletions.removeFirst()
        }
    }

    /// Notes the deletions of an update the primary applied, numbered `revision`.
    mutating func applied(_ change: StoreChange, revision: UInt64) {
        switch change {
        case .none, .put, .setDeadline:
            break
        case .delete(let key):
            deleted[key] = revision
            deletions.append((key, revision))
        case .deleteAll:
            clearedAt = revision
        case .several(let changes):
            for change in changes { applied(change, revision: revision) }
        }
    }

    /// The revision of the last update of `key` (`present`: the store's, if it holds the
    /// key), if that update is not settled.
    func unsettledRevision(of key: Bytes, present: UInt64?) -> UInt64? {
        let last = present ?? max(deleted[key] ?? 0, clearedAt, untrackedUpTo)
        return last > revision ? last : nil
    }

    /// The first batch sent that carries `revision`, or nil if it is still in the open batch.
    func batch(carrying revision: UInt64) -> Batch? {
        batches.queued.first { $0.revision >= revision }
    }
}
