/// The result of one schedule.
public struct SimulationReport: Sendable {
    public let seed: UInt64
    public let failure: SimulationFailure?
    public let statistics: SimulationStatistics
    /// A hash of every event's time and kind and every message's contents (`RunDigest`):
    /// two runs of one seed must agree on it.
    public let digest: UInt64
}
