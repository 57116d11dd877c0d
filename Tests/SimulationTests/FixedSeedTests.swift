import KVSimulation
import XCTest

/// The fixed seed set of the deterministic simulator (issue 7): every schedule runs the
/// real cores through crashes, restarts, partitions, monitor restarts, leaves and
/// switchovers, and must keep every invariant and a linearizable history. A failure
/// names its seed and the command that replays it; `scripts/simulate` runs more seeds.
final class FixedSeedTests: XCTestCase {
    static let seeds: ClosedRange<UInt64> = 1...1_000
    /// Schedules with three monitors sharing one view in a simulated etcd (docs/DESIGN.md
    /// §2.10): monitor crashes, monitors cut off from etcd, etcd without quorum, etcd
    /// leader changes that renew every lease.
    static let etcdSeeds: ClosedRange<UInt64> = 1...500

    func testFixedSeedsKeepEveryInvariant() {
        run(Self.seeds, SimulationOptions())
    }

    func testFixedSeedsWithThreeMonitorsAndEtcdKeepEveryInvariant() {
        var options = SimulationOptions()
        options.etcdMonitors = 3
        run(Self.etcdSeeds, options)
    }

    private func run(_ seeds: ClosedRange<UInt64>, _ options: SimulationOptions) {
        for seed in seeds {
            let report = Simulation.run(seed: seed, options: options)
            if let failure = report.failure {
                XCTFail("FAILED seed \(seed): \(failure.problem)\nreplay: \(failure.replayCommand)")
                return
            }
        }
    }
}
