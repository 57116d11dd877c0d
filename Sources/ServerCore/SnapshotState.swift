import KVProtocol

/// The whole state of a server at one LSN, as a snapshot holds it. Dictionaries and
/// arrays are copy-on-write: taking one costs nothing until the core changes its own.
public struct SnapshotState: Sendable {
    public var lsn: UInt64
    public var store: KeyValueStore
    public var duplicates: [DuplicateEntry]
    public var claim: StateClaim?

    public init(lsn: UInt64, store: KeyValueStore, duplicates: [DuplicateEntry], claim: StateClaim?) {
        self.lsn = lsn
        self.store = store
        self.duplicates = duplicates
        self.claim = claim
    }
}
