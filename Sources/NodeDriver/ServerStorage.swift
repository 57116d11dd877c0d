import KVProtocol
import ServerCore

/// Where a server with a data directory keeps its log (docs/STORAGE.md): the daemon's
/// files, written and fdatasync'ed on an I/O thread of their own, or the simulator's
/// disk. The records one turn of the event loop produces go out in one write (group
/// commit).
///
/// Like the environment, it reports back on the driver's thread only, and never from
/// inside the call that asked.
public protocol ServerStorage: AnyObject {
    /// Appends a record, its LSN following the last appended. Then calls
    /// `persisted(upTo:)`, as the fsync policy allows, once it is on disk.
    func append(_ record: DurableRecord, lsn: UInt64)

    /// `append(.update(update), lsn:)`, without making the record (which copies the update).
    func append(update: ForwardedUpdate, lsn: UInt64)

    /// Writes `state` as a snapshot covering every record up to `state.lsn`, and keeps
    /// only the log after it. With `replacing`, `state` is not the result of the log
    /// (a completed transfer): the snapshot counts as persisted only once it is durable,
    /// and the log before it is dropped whole. Without, it is a compaction of what the log
    /// already holds.
    func snapshot(_ state: SnapshotState, replacing: Bool)

    /// Whether the log has grown enough since the last snapshot for a compaction.
    var wantsSnapshot: Bool { get }

    /// Registers where reports go: `persisted(upTo: lsn)` once every record up to `lsn`
    /// is on disk as the fsync policy requires.
    func start(persisted: @escaping (UInt64) -> Void)

    /// As `start(persisted:)`, and `diskFull(true)` when a write is refused for want of
    /// space (the records wait, in order, and are retried), `diskFull(false)` once the
    /// disk takes them again.
    func start(persisted: @escaping (UInt64) -> Void, diskFull: @escaping (Bool) -> Void)
}

extension ServerStorage {
    public func append(update: ForwardedUpdate, lsn: UInt64) {
        append(.update(update), lsn: lsn)
    }

    /// For a storage whose disk is never full.
    public func start(persisted: @escaping (UInt64) -> Void, diskFull: @escaping (Bool) -> Void) {
        start(persisted: persisted)
    }
}
