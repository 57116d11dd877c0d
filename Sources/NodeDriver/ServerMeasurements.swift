import KVProtocol

/// Where a `ServerDriver` reports what it measures (Prometheus metrics in the daemon).
public protocol ServerMeasurements: AnyObject {
    func requestAnswered(op: Operation, status: ReplyStatus, nanoseconds: Int64)
    func forwardBatches(_ outcome: ForwardOutcome, count: Int)
    func forwardBatchFinished(nanoseconds: Int64)
    func transfer(_ outcome: TransferOutcome)
    func transferFinished(nanoseconds: Int64)
    func update(viewnum: UInt64, role: ServerInfo.Role, keys: Int, bytes: Int, duplicateClients: Int)
    /// Whether the monitor, and the backup (true without one), answer (`ServerDriver.peerTrouble`).
    func peersReachable(monitor: Bool, backup: Bool)
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
