import ArgumentParser
import KVMetrics
import KVTransport
import NIOCore
import Prometheus

/// The metrics flag both daemons take.
public struct MetricsOptions: ParsableArguments {
    @Option(
        help: "Serve Prometheus metrics over HTTP at HOST:PORT, path /metrics (default: off).",
        transform: PeerAddress.parse)
    public var metricsListen: PeerAddress?

    public init() {}

    /// `--metrics-listen`.
    public var address: PeerAddress? { metricsListen }
}

/// A daemon's running metrics: the factory to make its metrics with, and the endpoint.
public struct DaemonMetrics: Sendable {
    public let factory: PrometheusMetricsFactory
    public let endpoint: MetricsEndpoint
    /// What the endpoint writes after the registry (`ServerMetrics`' request metrics).
    public let appendix: MetricsAppendix
    /// Where the endpoint listens, for the startup record.
    public let description: String

    /// Starts the metrics endpoint when `--metrics-listen` was given (`listen`) or systemd
    /// passed a socket named "metrics"; nil when metrics are off.
    public static func start(listen: PeerAddress?, group: any EventLoopGroup) async throws -> DaemonMetrics? {
        guard let (source, description) = try ListenSource.resolveMetrics(listen: listen) else { return nil }
        let registry = PrometheusCollectorRegistry()
        let appendix = MetricsAppendix()
        let endpoint = try await MetricsEndpoint.start(
            source: source, registry: registry, appendix: appendix, group: group)
        var shown = description
        if case .bind = source, let bound = endpoint.localAddress { shown = bound.description }
        return DaemonMetrics(
            factory: KVMetricsFactory.make(registry: registry), endpoint: endpoint, appendix: appendix,
            description: shown)
    }
}
