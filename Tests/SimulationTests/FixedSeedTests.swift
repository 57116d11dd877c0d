import KVSimulation
import XCTest

/// The fixed seed set of the deterministic simulator (issue 7): every schedule runs the
/// real cores through crashes, restarts, partitions, monitor restarts, leaves and
/// switchovers, and must keep every invariant and a linearizable history. A failure
/// names its seed and the command that replays it; `scripts/simulate` runs more seeds.
final class FixedSeedTests: XCTestCase {
    static let seeds: ClosedRange<UInt64> = 1...1_000

    func testFixedSeedsKeepEveryInvariant() {
        for seed in Self.seeds {
            let report = Simulation.run(seed: seed)
            if let failure = report.failure {
                XCTFail("FAILED seed \(seed): \(failure.problem)\nreplay: \(failure.replayCommand)")
                return
            }
        }
    }
}
