import KVProtocol
import ServerCore

/// Everything a snapshot file holds: the state after every record up to `lsn`.
public struct SnapshotContents: Sendable {
    public var generation: UInt64
    public var lsn: UInt64
    /// The claim in force at `lsn`, if any.
    public var claim: StateClaim?
    /// The last server start before `lsn`, kept so that a claim can still be judged once
    /// the log that held the start is deleted.
    public var start: ServerStart?
    public var store: KeyValueStore
    /// The duplicate table's entries, least recently updated first.
    public var duplicates: [DuplicateEntry]
}
