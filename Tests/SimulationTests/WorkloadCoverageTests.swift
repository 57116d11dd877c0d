import KVSimulation
import XCTest

/// The workload reaches what the checks are for: keys expire during the runs (some
/// writes even after their deadline), conditions refuse writes, adds meet values that are
/// not integers, scans run to their end, and transfers and audits show both counters.
final class WorkloadCoverageTests: XCTestCase {
    func testTheFirstSeedsExerciseTheTransactions() {
        var total = SimulationStatistics()
        for seed: UInt64 in 1...40 {
            let report = Simulation.run(seed: seed)
            XCTAssertNil(report.failure, "seed \(seed)")
            total.add(report.statistics)
        }
        let workload = total.workload
        XCTAssertGreaterThan(workload.keysExpired, 20, workload.summary)
        XCTAssertGreaterThan(workload.writesGoneAtOnce, 0, workload.summary)
        XCTAssertGreaterThan(workload.refusedWrites, 50, workload.summary)
        XCTAssertGreaterThan(workload.conditionalWrites - workload.refusedWrites, 50, workload.summary)
        XCTAssertGreaterThan(workload.refusedAdds, 10, workload.summary)
        XCTAssertGreaterThan(workload.scansCompleted, 50, workload.summary)
        XCTAssertGreaterThan(workload.scanPages, workload.scansCompleted, workload.summary)
        XCTAssertGreaterThan(workload.transfers, 50, workload.summary)
        XCTAssertGreaterThan(workload.audits, 50, workload.summary)
    }
}
