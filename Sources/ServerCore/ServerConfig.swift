/// Tunables of the replication core. Defaults suit the default 100 ms tick.
public struct ServerConfig: Sendable {
    /// This server's address as the monitor and clients know it.
    public var address: String
    /// Largest encoded size of the updates in one forward batch.
    public var maxBatchBytes: Int = 1 << 20
    /// Most updates in one forward batch.
    public var maxBatchUpdates: Int = 4096
    /// Forward batches sent and not yet acknowledged, at most.
    public var maxBatchesInFlight: Int = 8
    /// Target size of one state-transfer chunk.
    public var transferChunkBytes: Int = 1 << 20
    /// Transfer chunks sent and not yet acknowledged, at most.
    public var transferWindow: Int = 2
    /// Client requests held while a transfer runs (or the send window is full); beyond
    /// this, clients are told to retry later.
    public var maxDeferredRequests: Int = 10_000
    /// Replies held until the backup acknowledges their batch, at most; beyond this,
    /// requests are deferred (and then told to retry later).
    public var maxWaitingReplies: Int = 20_000
    /// Ticks without an acknowledgement after which unacknowledged batches or the
    /// transfer are sent again.
    public var resendAfterTicks: Int = 10
    /// Clients remembered by the duplicate table.
    public var duplicateTableCapacity: Int = 100_000

    public init(address: String) {
        self.address = address
    }
}
