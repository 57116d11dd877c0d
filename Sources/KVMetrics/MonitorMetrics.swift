import CoreMetrics
import KVProtocol
import NodeDriver

/// The monitor's metrics, made from an explicit `MetricsFactory` (no global bootstrap).
///
/// - Gauges `kvservice_view_number`, `kvservice_view_acknowledged` (0 or 1) and
///   `kvservice_live_servers`.
/// - Gauges `kvservice_monitor_leader` (1 while this monitor decides views: a sole
///   monitor, or the leader of several) and `kvservice_monitor_store_reachable` (0 while
///   etcd, or the view file, fails).
/// - Counters `kvservice_view_changes_total` and `kvservice_pings_total`.
public final class MonitorMetrics: MonitorMeasurements, Sendable {
    private let viewNumber: Gauge
    private let viewAcknowledged: Gauge
    private let liveServers: Gauge
    private let viewChanges: CoreMetrics.Counter
    private let pings: CoreMetrics.Counter
    private let deciding: Gauge
    private let storeReachable: Gauge

    public init(factory: any MetricsFactory) {
        viewNumber = Gauge(label: "kvservice_view_number", factory: factory)
        viewAcknowledged = Gauge(label: "kvservice_view_acknowledged", factory: factory)
        liveServers = Gauge(label: "kvservice_live_servers", factory: factory)
        viewChanges = Counter(label: "kvservice_view_changes_total", factory: factory)
        pings = Counter(label: "kvservice_pings_total", factory: factory)
        deciding = Gauge(label: "kvservice_monitor_leader", factory: factory)
        storeReachable = Gauge(label: "kvservice_monitor_store_reachable", factory: factory)
        update(MonitorStatus(role: .sole, leader: "", view: .initial, storeReachable: true), liveServers: 0)
    }

    public func update(_ status: MonitorStatus, liveServers: Int) {
        viewNumber.record(status.view.viewnum)
        viewAcknowledged.record(status.view.acked ? 1 : 0)
        self.liveServers.record(liveServers)
        deciding.record(status.decides ? 1 : 0)
        storeReachable.record(status.storeReachable ? 1 : 0)
    }

    public func viewChanged() { viewChanges.increment() }

    public func pinged() { pings.increment() }
}
