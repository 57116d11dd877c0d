import CoreMetrics
import Prometheus

/// The swift-metrics factory the daemons use: Prometheus, with histogram buckets fine
/// enough for requests answered in well under a millisecond on a LAN.
public enum KVMetricsFactory {
    /// Duration buckets from 100 µs to 10 s.
    public static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .microseconds(2_500_000), .seconds(5), .seconds(10),
    ]

    /// Records per log sync (group commit): 1 to 16,384 in powers of 4.
    public static let syncBatchBuckets: [Double] = [1, 4, 16, 64, 256, 1024, 4096, 16384]

    /// A factory making its metrics in `registry` (not the process-global one).
    public static func make(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        factory.valueHistogramBuckets[ServerMetrics.syncBatchLabel] = syncBatchBuckets
        return factory
    }
}

extension Duration {
    /// In seconds, as Prometheus writes durations.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
