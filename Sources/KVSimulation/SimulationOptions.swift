/// How a schedule is run, beyond its seed.
public struct SimulationOptions: Sendable {
    public static let defaultSteps = 40

    /// Operations each client session runs before the faults stop.
    public var steps: Int
    /// Called with every trace line as it happens (`--verbose`); nil keeps only the last
    /// `traceLength` lines, for a failure's report.
    public var traceSink: (@Sendable (String) -> Void)?
    public var traceLength: Int
    /// 0: one monitor keeping its view in its own store. More: that many monitors sharing
    /// one view in a simulated etcd (docs/DESIGN.md §2.10).
    public var etcdMonitors = 0

    public init(steps: Int = SimulationOptions.defaultSteps, traceSink: (@Sendable (String) -> Void)? = nil) {
        self.steps = steps
        self.traceSink = traceSink
        self.traceLength = 50
    }
}
