import KVSimulation
import XCTest

/// A seed names one schedule: running it again gives the same events at the same times.
final class ReplayTests: XCTestCase {
    func testASeedReplaysExactly() {
        for seed: UInt64 in [7, 21, 137] {
            let first = Simulation.run(seed: seed)
            let second = Simulation.run(seed: seed)
            XCTAssertEqual(first.digest, second.digest, "seed \(seed)")
            XCTAssertEqual(first.statistics.events, second.statistics.events, "seed \(seed)")
            XCTAssertEqual(first.statistics.operations, second.statistics.operations, "seed \(seed)")
        }
    }

    func testDifferentSeedsGiveDifferentSchedules() {
        XCTAssertNotEqual(Simulation.run(seed: 1).digest, Simulation.run(seed: 2).digest)
    }
}
