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
    /// While a batch is in flight, the next one leaves only once it holds this many bytes
    /// of updates or `pipelineAfterUpdates` updates (or when the backup answers). Under load
    /// every acknowledgement then releases many replies for one write and one read on the
    /// backup link, instead of each request costing a round trip of its own; an idle
    /// primary still sends at once. 0 sends every batch as soon as the window has room.
    public var pipelineAfterBytes: Int = 64 << 10
    public var pipelineAfterUpdates: Int = 256
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
    /// Whether the server logs its updates (it has a data directory): every reply and
    /// every acknowledgement to the primary then waits until the log holds what it
    /// reveals (`ServerEvent.persisted`).
    public var durable = false
    /// Keys whose deadline has passed that a primary deletes at one tick, at most (the
    /// rest at the next ticks; a read of one deletes it at once).
    public var expiriesPerTick: Int = 1000
    /// The read lease asked of the backup with every forward, in nanoseconds, at most
    /// `Limits.maxReadLease`: while it holds, the primary answers a Get of a settled key
    /// on its own. 0 (the core's default; kv-server's is 400 ms) asks for none, and every
    /// Get waits for the backup (docs/DESIGN.md §3.14).
    public var readLease: UInt64 = 0
    /// How far any server's lease clock may run fast or slow, in millionths (`ρ`).
    public var clockDriftPPM: UInt64 = 1_000
    /// Taken off the lease besides the drift: the time from reading the clock for a Get
    /// to its reply leaving.
    public var leaseMargin: UInt64 = 5_000_000

    /// How long, from when a batch left, its acknowledgement lets this primary read on
    /// its own: `L·(1 − 2ρ) − margin`, which ends before the backup's promise does
    /// whatever the two clocks' rates within `ρ`.
    public var leaseRunsFor: UInt64 {
        let drift = readLease / 1_000_000 * 2 * clockDriftPPM
        return readLease > drift + leaseMargin ? readLease - drift - leaseMargin : 0
    }

    public init(address: String) {
        self.address = address
    }
}
