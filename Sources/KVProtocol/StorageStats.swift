/// What a server with a data directory reports about it (`kvctl server-info`).
public struct StorageStats: Equatable, Sendable {
    public var directory: String
    /// `always`, `everysec` or `no`.
    public var fsync: String
    public var logBytes: UInt64
    public var snapshotBytes: UInt64
    /// The LSN of the last record written to the log, and of the last synced.
    public var lastWritten: UInt64
    public var lastSynced: UInt64
    /// What the log proves this server holds (docs/STORAGE.md, "Claims"); nil: nothing.
    public var claim: StateClaim?
    /// What opening the directory found at start.
    public var opening: String

    public init(
        directory: String, fsync: String, logBytes: UInt64, snapshotBytes: UInt64, lastWritten: UInt64,
        lastSynced: UInt64, claim: StateClaim?, opening: String
    ) {
        self.directory = directory
        self.fsync = fsync
        self.logBytes = logBytes
        self.snapshotBytes = snapshotBytes
        self.lastWritten = lastWritten
        self.lastSynced = lastSynced
        self.claim = claim
        self.opening = opening
    }
}
