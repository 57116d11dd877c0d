import KVTestSupport
import XCTest

/// What every kvctl test runs against: a live in-process cluster (a monitor; servers as
/// the test adds them) and a scratch directory, both new for each test.
class KVCtlTestCase: XCTestCase {
    var cluster: TestCluster!
    var scratch: TestScratch!

    override func setUp() async throws {
        cluster = try await makeCluster()
        scratch = try makeScratch()
    }
}
