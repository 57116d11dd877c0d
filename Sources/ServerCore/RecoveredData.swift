import KVProtocol

/// What a server read back from its data directory at start: the state its log and
/// snapshot rebuild, and the claim they prove, if any (docs/STORAGE.md).
public struct RecoveredData: Sendable {
    public var store: KeyValueStore
    public var duplicates: DuplicateTable
    /// The LSN of the last record read back; the next record gets the one after.
    public var lastLSN: UInt64
    /// Nil when none is proven: none was ever written, or the fsync policy was not
    /// `always` and the machine has rebooted since (its unsynced tail may be gone).
    public var claim: StateClaim?

    public init(
        store: KeyValueStore, duplicates: DuplicateTable, lastLSN: UInt64, claim: StateClaim?
    ) {
        self.store = store
        self.duplicates = duplicates
        self.lastLSN = lastLSN
        self.claim = claim
    }
}
