/// A schedule that broke a rule: its seed (which replays it exactly), what broke, and
/// the events that led there.
public struct SimulationFailure: Error, Sendable, CustomStringConvertible {
    public let seed: UInt64
    /// Operations per client the schedule ran with (`--steps`).
    public let steps: Int
    /// Monitors sharing a view in etcd (`--etcd`); 0 for one monitor.
    public var etcdMonitors = 0
    /// Simulated time of the failure, in microseconds.
    public let time: UInt64
    public let problem: String
    /// The last events before the failure, oldest first.
    public let trace: [String]

    /// The command that runs this schedule again and prints its whole trace.
    public var replayCommand: String {
        "scripts/simulate --seed \(seed)" + (steps == SimulationOptions.defaultSteps ? "" : " --steps \(steps)")
            + (etcdMonitors == 0 ? "" : " --etcd \(etcdMonitors)") + " --verbose"
    }

    public var description: String {
        "seed \(seed) at \(TraceLog.format(time: time)): \(problem)"
    }
}
