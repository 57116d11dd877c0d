import CoreMetrics
import NodeDriver

/// The monitor's metrics, made from an explicit `MetricsFactory` (no global bootstrap).
///
/// - Gauges `kvservice_view_number`, `kvservice_view_acknowledged` (0 or 1) and
///   `kvservice_live_servers`.
/// - Counters `kvservice_view_changes_total` and `kvservice_pings_total`.
public final class MonitorMetrics: MonitorMeasurements, Sendable {
    private let viewNumber: Gauge
    private let viewAcknowledged: Gauge
    private let liveServers: Gauge
    private let viewChanges: CoreMetrics.Counter
    private let pings: CoreMetrics.Counter

    public init(factory: any MetricsFactory) {
        viewNumber = Gauge(label: "kvservice_view_number", factory: factory)
        viewAcknowledged = Gauge(label: "kvservice_view_acknowledged", factory: factory)
        liveServers = Gauge(label: "kvservice_live_servers", factory: factory)
        viewChanges = Counter(label: "kvservice_view_changes_total", factory: factory)
        pings = Counter(label: "kvservice_pings_total", factory: factory)
        update(viewnum: 0, acknowledged: false, liveServers: 0)
    }

    public func update(viewnum: UInt64, acknowledged: Bool, liveServers: Int) {
        viewNumber.record(viewnum)
        viewAcknowledged.record(acknowledged ? 1 : 0)
        self.liveServers.record(liveServers)
    }

    public func viewChanged() { viewChanges.increment() }

    public func pinged() { pings.increment() }
}
