/// What one server reports about itself (`kvctl server-info`): its role and view, what it
/// holds, and counters of its replication work since it started.
public struct ServerStats: Equatable, Sendable {
    public var address: String
    public var role: ServerInfo.Role
    public var view: View
    /// Answering clients (primary with the current state).
    public var serving: Bool
    /// As primary: the backup holds the whole state (or there is no backup).
    public var backupSynchronized: Bool
    public var keys: UInt64
    /// Bytes of keys and values stored.
    public var bytes: UInt64
    /// Clients in the duplicate table.
    public var duplicates: UInt64
    public var uptimeMillis: UInt64
    public var connections: UInt32
    /// Replies held until the backup acknowledges, and requests held (transfer, full window).
    public var pendingReplies: UInt32
    public var deferredRequests: UInt32
    public var counters: ServerCounters
    /// The data directory, for a server that has one.
    public var storage: StorageStats?

    public init(
        address: String, role: ServerInfo.Role, view: View, serving: Bool, backupSynchronized: Bool, keys: UInt64,
        bytes: UInt64, duplicates: UInt64, uptimeMillis: UInt64, connections: UInt32, pendingReplies: UInt32,
        deferredRequests: UInt32, counters: ServerCounters, storage: StorageStats? = nil
    ) {
        self.storage = storage
        self.address = address
        self.role = role
        self.view = view
        self.serving = serving
        self.backupSynchronized = backupSynchronized
        self.keys = keys
        self.bytes = bytes
        self.duplicates = duplicates
        self.uptimeMillis = uptimeMillis
        self.connections = connections
        self.pendingReplies = pendingReplies
        self.deferredRequests = deferredRequests
        self.counters = counters
    }
}

/// Monotonic counters of a server's work since it started.
public struct ServerCounters: Equatable, Sendable {
    /// Client requests received.
    public var requests: UInt64 = 0
    /// Forward batches sent to a backup (first sends), and sent again.
    public var batchesSent: UInt64 = 0
    public var batchesResent: UInt64 = 0
    /// Forward batches applied as backup.
    public var batchesApplied: UInt64 = 0
    /// State transfers started (restarts included) and completed as primary.
    public var transfersStarted: UInt64 = 0
    public var transfersCompleted: UInt64 = 0
    /// Complete state transfers received as backup.
    public var transfersReceived: UInt64 = 0
    /// Keys deleted as primary because their deadline passed.
    public var keysExpired: UInt64 = 0
    /// Gets answered by the primary alone, under its read lease.
    public var leaseReads: UInt64 = 0

    public init() {}

    /// The counters in wire order.
    public var all: [UInt64] {
        [
            requests, batchesSent, batchesResent, batchesApplied, transfersStarted, transfersCompleted,
            transfersReceived, keysExpired, leaseReads,
        ]
    }

    public init(all values: [UInt64]) {
        precondition(values.count == Self.count)
        (requests, batchesSent, batchesResent, batchesApplied) = (values[0], values[1], values[2], values[3])
        (transfersStarted, transfersCompleted, transfersReceived) = (values[4], values[5], values[6])
        (keysExpired, leaseReads) = (values[7], values[8])
    }

    /// How many counters there are.
    public static let count = 9
}
