import KVProtocol
import XCTest

/// Which monitor to ask next (docs/DESIGN.md §4.3): the one that answered, the next after
/// a miss, the leader a follower names; each at most once a pass.
final class MonitorRotationTests: XCTestCase {
    func testStartsWithTheFirstAndKeepsTheOneThatAnswers() {
        var rotation = MonitorRotation(["a", "b", "c"])
        XCTAssertEqual(rotation.current, "a")
        rotation.answered()
        XCTAssertEqual(rotation.current, "a")
        XCTAssertFalse(rotation.failed())
        XCTAssertEqual(rotation.current, "b")
        rotation.answered()
        XCTAssertEqual(rotation.current, "b")
    }

    func testAPassEndsOnceEveryMonitorHasMissedInARow() {
        var rotation = MonitorRotation(["a", "b", "c"])
        XCTAssertFalse(rotation.failed())
        XCTAssertFalse(rotation.failed())
        XCTAssertTrue(rotation.failed(), "a, b and c missed")
        XCTAssertEqual(rotation.current, "a", "the next pass begins after c")
        XCTAssertFalse(rotation.failed(), "a new pass")
        XCTAssertEqual(rotation.current, "b")
    }

    func testAnAnswerBeginsANewPass() {
        var rotation = MonitorRotation(["a", "b"])
        XCTAssertFalse(rotation.failed())
        rotation.answered()
        XCTAssertFalse(rotation.failed(), "b answered since a missed: not a pass")
        XCTAssertEqual(rotation.current, "a")
    }

    func testAHintToAListedMonitorIsFollowed() {
        var rotation = MonitorRotation(["a", "b", "c"])
        XCTAssertFalse(rotation.redirected(to: "c"))
        XCTAssertEqual(rotation.current, "c")
    }

    func testNoHintAnUnknownHintOrASelfHintMovesOnAsAFailure() {
        var rotation = MonitorRotation(["a", "b", "c", "d"])
        rotation.redirected(to: "")
        XCTAssertEqual(rotation.current, "b")
        rotation.redirected(to: "elsewhere:7100")
        XCTAssertEqual(rotation.current, "c")
        rotation.redirected(to: "c")
        XCTAssertEqual(rotation.current, "d")
    }

    func testAHintBackToAMonitorTriedInThisPassIsNotFollowed() {
        var rotation = MonitorRotation(["a", "b", "c"])
        rotation.redirected(to: "c")
        // c names a, which sent us to c: two confused monitors; b is still untried.
        XCTAssertFalse(rotation.redirected(to: "a"))
        XCTAssertEqual(rotation.current, "b")
        XCTAssertTrue(rotation.redirected(to: "c"), "every monitor missed")
    }

    func testAStaleHintToADeadMonitorDoesNotHideTheOthers() {
        // a names c, which is dead; b (the real leader) is tried next, not a again.
        var rotation = MonitorRotation(["a", "b", "c"])
        rotation.redirected(to: "c")
        XCTAssertFalse(rotation.failed())
        XCTAssertEqual(rotation.current, "b")
    }

    func testASingleMonitorEndsAPassWithEachMiss() {
        var rotation = MonitorRotation(["m"])
        XCTAssertTrue(rotation.failed())
        XCTAssertTrue(rotation.redirected(to: "m"))
        XCTAssertTrue(rotation.redirected(to: "other:1"))
        XCTAssertEqual(rotation.current, "m")
    }
}
