import CoreMetrics
import KVProtocol
import NIOConcurrencyHelpers
import NodeDriver

/// A server's metrics, made from an explicit `MetricsFactory` (no global bootstrap).
///
/// - `kvservice_requests_total{op,result}` and `kvservice_request_duration_seconds{op,result}`:
///   client requests answered, from receipt to reply. Kept apart from the factory's
///   metrics (`RequestTally`, written by the endpoint's `MetricsAppendix`): one is
///   recorded for every request.
/// - `kvservice_forward_batches_total{outcome}` (`sent`, `acked`, `failed`, `resent`) and
///   `kvservice_forward_batch_duration_seconds`: batches sent to the backup and their round trips.
/// - `kvservice_transfers_total{outcome}` (`started`, `completed`, `restarted`, `resumed`) and
///   `kvservice_transfer_duration_seconds`: state transfers to a new backup.
/// - Gauges `kvservice_view_number`, `kvservice_role{role}` (1 for the current role),
///   `kvservice_keys`, `kvservice_bytes`, `kvservice_duplicate_clients`,
///   `kvservice_keys_with_deadline`, `kvservice_keys_expired` (deleted as primary since the
///   process started), `kvservice_store_revision`, `kvservice_peer_reachable{peer}` (`monitor`, `backup`: 0 once it has answered nothing
///   for three ping intervals, 1 otherwise).
/// - With a data directory: `kvservice_log_sync_duration_seconds` (each fdatasync of the
///   log) and `kvservice_log_sync_records` (records made durable by each: the group
///   commit's batch size), and gauges `kvservice_log_bytes`, `kvservice_snapshot_bytes`,
///   `kvservice_log_synced_lsn`, `kvservice_log_appended_bytes` (since the process started).
public final class ServerMetrics: ServerMeasurements, Sendable {
    /// Requests answered: taken on the core's loop, read by scrapes.
    private let requests = NIOLockedValueBox(RequestTally(bounds: KVMetricsFactory.durationBuckets.map(\.seconds)))
    private let forwardBatches: [ForwardOutcome: CoreMetrics.Counter]
    private let forwardDuration: CoreMetrics.Timer
    private let transfers: [TransferOutcome: CoreMetrics.Counter]
    private let transferDuration: CoreMetrics.Timer
    private let viewNumber: Gauge
    private let roles: [(ServerInfo.Role, Gauge)]
    private let keys: Gauge
    private let bytes: Gauge
    private let duplicateClients: Gauge
    private let expiringKeys: Gauge
    private let keysExpired: Gauge
    private let revision: Gauge
    private let monitorReachable: Gauge
    private let backupReachable: Gauge
    private let syncDuration: CoreMetrics.Timer
    private let syncRecords: Recorder
    private let logBytes: Gauge
    private let snapshotBytes: Gauge
    private let syncedLSN: Gauge
    private let appendedBytes: Gauge

    public static let syncBatchLabel = "kvservice_log_sync_records"
    /// - Parameter appendix: where the request metrics are written at every scrape (the
    ///   endpoint's); nil: they are counted and not exported.
    public init(factory: any MetricsFactory, appendix: MetricsAppendix? = nil) {
        forwardBatches = Dictionary(
            uniqueKeysWithValues: ForwardOutcome.allCases.map {
                (
                    $0,
                    Counter(
                        label: "kvservice_forward_batches_total", dimensions: [("outcome", $0.rawValue)],
                        factory: factory)
                )
            })
        forwardDuration = Timer(label: "kvservice_forward_batch_duration_seconds", factory: factory)
        transfers = Dictionary(
            uniqueKeysWithValues: TransferOutcome.allCases.map {
                (
                    $0,
                    Counter(
                        label: "kvservice_transfers_total", dimensions: [("outcome", $0.rawValue)], factory: factory)
                )
            })
        transferDuration = Timer(label: "kvservice_transfer_duration_seconds", factory: factory)
        viewNumber = Gauge(label: "kvservice_view_number", factory: factory)
        roles = [ServerInfo.Role.primary, .backup, .idle].map {
            ($0, Gauge(label: "kvservice_role", dimensions: [("role", "\($0)")], factory: factory))
        }
        keys = Gauge(label: "kvservice_keys", factory: factory)
        bytes = Gauge(label: "kvservice_bytes", factory: factory)
        duplicateClients = Gauge(label: "kvservice_duplicate_clients", factory: factory)
        expiringKeys = Gauge(label: "kvservice_keys_with_deadline", factory: factory)
        keysExpired = Gauge(label: "kvservice_keys_expired", factory: factory)
        revision = Gauge(label: "kvservice_store_revision", factory: factory)
        monitorReachable = Gauge(label: "kvservice_peer_reachable", dimensions: [("peer", "monitor")], factory: factory)
        backupReachable = Gauge(label: "kvservice_peer_reachable", dimensions: [("peer", "backup")], factory: factory)
        monitorReachable.record(1)
        backupReachable.record(1)
        syncDuration = Timer(label: "kvservice_log_sync_duration_seconds", factory: factory)
        syncRecords = Recorder(label: Self.syncBatchLabel, aggregate: true, factory: factory)
        logBytes = Gauge(label: "kvservice_log_bytes", factory: factory)
        snapshotBytes = Gauge(label: "kvservice_snapshot_bytes", factory: factory)
        syncedLSN = Gauge(label: "kvservice_log_synced_lsn", factory: factory)
        appendedBytes = Gauge(label: "kvservice_log_appended_bytes", factory: factory)
        update(ServerGauges())
        appendix?.add { [requests] buffer in requests.withLockedValue { $0 }.emit(into: &buffer) }
    }

    /// The label value for a reply status: `ok`, `no_key`, `wrong_server`, `retry_later`,
    /// `stale_request`, `invalid`.
    public static func resultLabel(_ status: ReplyStatus) -> String {
        switch status {
        case .ok: "ok"
        case .noKey: "no_key"
        case .wrongServer: "wrong_server"
        case .retryLater: "retry_later"
        case .staleRequest: "stale_request"
        case .invalid: "invalid"
        }
    }

    /// A client request was answered `nanoseconds` after it arrived.
    public func requestAnswered(op: Operation, status: ReplyStatus, nanoseconds: Int64) {
        let seconds = Double(nanoseconds) / 1e9
        requests.withLockedValue { $0.record(op: op, status: status, seconds: seconds) }
    }

    public func forwardBatches(_ outcome: ForwardOutcome, count: Int = 1) {
        forwardBatches[outcome]!.increment(by: count)
    }

    /// A batch's round trip to the backup, answered or not.
    public func forwardBatchFinished(nanoseconds: Int64) {
        forwardDuration.recordNanoseconds(nanoseconds)
    }

    public func transfer(_ outcome: TransferOutcome) {
        transfers[outcome]!.increment()
    }

    /// A completed transfer's duration, restarts included.
    public func transferFinished(nanoseconds: Int64) {
        transferDuration.recordNanoseconds(nanoseconds)
    }

    /// One fdatasync of the log made `records` records durable in `nanoseconds` (called
    /// from the I/O thread).
    public func logSynced(records: UInt64, nanoseconds: UInt64) {
        syncDuration.recordNanoseconds(Int64(clamping: nanoseconds))
        syncRecords.record(Int64(clamping: records))
    }

    /// The data directory's gauges.
    public func updateStorage(logBytes: Int, snapshotBytes: Int, syncedLSN: UInt64, appendedBytes: Int) {
        self.appendedBytes.record(appendedBytes)
        self.logBytes.record(logBytes)
        self.snapshotBytes.record(snapshotBytes)
        self.syncedLSN.record(Int64(clamping: syncedLSN))
    }

    /// The gauges, taken from the core at every tick.
    public func peersReachable(monitor: Bool, backup: Bool) {
        monitorReachable.record(monitor ? 1 : 0)
        backupReachable.record(backup ? 1 : 0)
    }

    public func update(_ gauges: ServerGauges) {
        viewNumber.record(gauges.viewnum)
        for (candidate, gauge) in roles { gauge.record(candidate == gauges.role ? 1 : 0) }
        keys.record(gauges.keys)
        bytes.record(gauges.bytes)
        duplicateClients.record(gauges.duplicateClients)
        expiringKeys.record(gauges.expiringKeys)
        keysExpired.record(gauges.keysExpired)
        revision.record(gauges.revision)
    }
}
