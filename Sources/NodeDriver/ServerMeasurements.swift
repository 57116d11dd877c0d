import KVProtocol

/// Where a `ServerDriver` reports what it measures (Prometheus metrics in the daemon).
public protocol ServerMeasurements: AnyObject {
    func requestAnswered(op: Operation, status: ReplyStatus, nanoseconds: Int64)
    func forwardBatches(_ outcome: ForwardOutcome, count: Int)
    func forwardBatchFinished(nanoseconds: Int64)
    func transfer(_ outcome: TransferOutcome)
    func transferFinished(nanoseconds: Int64)
    func update(_ gauges: ServerGauges)
    /// Whether the monitor, and the backup (true without one), answer (`ServerDriver.peerTrouble`).
    func peersReachable(monitor: Bool, backup: Bool)
}

/// A server's state as its gauges show it, at each tick.
public struct ServerGauges: Sendable, Equatable {
    public var viewnum: UInt64 = 0
    public var role: ServerInfo.Role = .idle
    public var keys = 0
    public var bytes = 0
    public var duplicateClients = 0
    /// Keys with a deadline.
    public var expiringKeys = 0
    /// Keys this server deleted as primary because their deadline passed (a count).
    public var keysExpired: UInt64 = 0
    /// The store's revision.
    public var revision: UInt64 = 0

    public init() {}
}

/// What became of forward batches.
public enum ForwardOutcome: String, Sendable, CaseIterable {
    /// Handed to the connection to the backup (first sends and resends alike).
    case sent
    /// Accepted by the backup.
    case acked
    /// Refused by the backup, or lost (connection closed, no answer in time).
    case failed
    /// Batches the primary decided to send again.
    case resent
}

/// What became of state transfers.
public enum TransferOutcome: String, Sendable, CaseIterable {
    /// `resumed`: the unacknowledged chunks were sent again under the same transfer.
    case started, completed, restarted, resumed
}
