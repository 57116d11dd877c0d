import KVCheck
import KVProtocol
import XCTest

/// Deadlines: a key may vanish at any point at or after its deadline — expiry is the
/// primary's own event, allowed, never required — and never before.
final class ExpiryTests: XCTestCase {
    func testAKeyMayVanishAfterItsDeadline() {
        assertLinearizable([
            write(1, "k", "v", deadline: 100, 0...10, after: "v", 1),
            read(2, "k", 20...30, "v", 1),
            read(2, "k", 150...160, nil),
        ])
    }

    func testAKeyNeedNotVanishAfterItsDeadline() {
        assertLinearizable([
            write(1, "k", "v", deadline: 100, 0...10, after: "v", 1),
            read(2, "k", 150...160, "v", 1),
            get(2, "k", 170...180, "v"),
        ])
    }

    func testAKeyMissingBeforeItsDeadlineIsAViolation() {
        let explanation = assertNotLinearizable(
            [
                write(1, "k", "v", deadline: 100, 0...10, after: "v", 1),
                read(2, "k", 50...60, nil),
            ], key: "k")
        XCTAssertTrue(explanation.contains("it found absent, but the key holds \"v\""), explanation)
        XCTAssertTrue(explanation.contains("may expire from 100"), explanation)
    }

    func testAReadThatMayTakeEffectAtTheDeadlineMayMissIt() {
        // Its return is at the deadline: it may have run then, when the key was gone.
        assertLinearizable([
            write(1, "k", "v", deadline: 100, 0...10, after: "v", 1),
            get(2, "k", 50...100, nil),
        ])
    }

    func testAKeyOnceExpiredStaysGone() {
        assertNotLinearizable(
            [
                write(1, "k", "v", deadline: 100, 0...10, after: "v", 1),
                read(2, "k", 150...160, nil),
                read(3, "k", 170...180, "v", 1),
            ], key: "k")
    }

    func testExpiryCannotComeBeforeAnOperationThatReturnedBeforeTheDeadline() {
        // The delete returned at 90, before the deadline: it ran on the live key.
        assertLinearizable([
            write(1, "k", "v", deadline: 100, 0...10, after: "v", 1),
            delete(2, "k", 80...90, existed: true),
        ])
        assertNotLinearizable(
            [
                write(1, "k", "v", deadline: 100, 0...10, after: "v", 1),
                delete(2, "k", 80...90, existed: false),
            ], key: "k")
    }

    func testAnAddKeepsTheDeadline() {
        assertLinearizable([
            write(1, "k", "5", deadline: 100, 0...10, after: "5", 1),
            add(1, "k", 2, 20...30, after: "7", 2),
            read(2, "k", 150...160, nil),
        ])
    }

    func testAnAddAfterExpiryCountsFromZero() {
        assertLinearizable([
            write(1, "k", "5", deadline: 100, 0...10, after: "5", 1),
            add(1, "k", 2, 150...160, after: "2", 4),
        ])
        assertNotLinearizable(
            [
                write(1, "k", "5", deadline: 100, 0...10, after: "5", 1),
                add(1, "k", 2, 50...60, after: "2", 4),
            ], key: "k")
    }

    func testAWriteWhoseDeadlineHadPassedLeavesNothing() {
        // Applied after its deadline (the earliest, from its invocation plus the time to
        // live): the key is set and gone at once.
        assertLinearizable([
            put(1, "k", "old", 0...1),
            write(2, "k", "v", deadline: 20, 10...30, after: nil),
            read(1, "k", 40...50, nil),
        ])
        // Not when it returned before its deadline.
        let explanation = assertNotLinearizable([write(2, "k", "v", deadline: 40, 10...30, after: nil)], key: "k")
        XCTAssertTrue(explanation.contains("it returned at 30, before its deadline 40"), explanation)
    }

    func testATimedOutWriteWithADeadlineMayHaveLeftTheKeyOrNot() {
        for seen in [nil, "v"] as [String?] {
            assertLinearizable(
                [
                    write(1, "k", "v", deadline: 100, timedOutAfter: 0),
                    get(2, "k", 150...160, seen),
                ], "read \(String(describing: seen))")
        }
        assertNotLinearizable(
            [
                write(1, "k", "v", deadline: 100, timedOutAfter: 0),
                get(2, "k", 50...60, "v"),
                get(2, "k", 70...80, nil),
            ], key: "k")
    }
}
