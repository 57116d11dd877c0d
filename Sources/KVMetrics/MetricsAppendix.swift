import NIOConcurrencyHelpers

/// Metrics kept outside the Prometheus registry and written after it at every scrape:
/// those recorded for every request, where the registry's cost per observation (a
/// histogram's lock, its bucket search through swift-metrics' generic recorder: about
/// 1,100 instructions, an eighth of a GET; docs/PERFORMANCE.md) is too much.
public final class MetricsAppendix: Sendable {
    private let sections = NIOLockedValueBox<[@Sendable (inout [UInt8]) -> Void]>([])

    public init() {}

    /// `emit` writes its metrics in Prometheus's text format at every scrape.
    public func add(_ emit: @escaping @Sendable (inout [UInt8]) -> Void) {
        sections.withLockedValue { $0.append(emit) }
    }

    func emit(into buffer: inout [UInt8]) {
        for section in sections.withLockedValue({ $0 }) { section(&buffer) }
    }
}
