import KVCheck
import KVProtocol
import XCTest

/// Revisions, conditional writes and adds: each write's revision above every one seen on
/// the key before, a read's that of the last write, a condition applied exactly when it
/// held, an add that adds.
final class ConditionalWriteTests: XCTestCase {
    func testRevisionsGoUpAndReadsSeeTheLastWrites() {
        assertLinearizable([
            write(1, "k", "a", 0...10, after: "a", 3),
            read(2, "k", 20...30, "a", 3),
            write(1, "k", "b", 40...50, after: "b", 9),
            read(2, "k", 60...70, "b", 9),
        ])
    }

    func testARevisionThatGoesDownIsAViolation() {
        assertNotLinearizable(
            [
                write(1, "k", "a", 0...10, after: "a", 9),
                write(1, "k", "b", 20...30, after: "b", 3),
            ], key: "k")
    }

    func testAReadOfAnotherRevisionThanTheLastWritesIsAViolation() {
        let explanation = assertNotLinearizable(
            [
                write(1, "k", "a", 0...10, after: "a", 3),
                read(2, "k", 20...30, "a", 4),
            ], key: "k")
        XCTAssertTrue(explanation.contains("it found \"a\" at revision 4"), explanation)
    }

    func testAWriteWhoseRevisionNoAnswerShowedIsLearntFromAReadAndThenHolds() {
        assertLinearizable([
            put(1, "k", "a", 0...10),
            read(2, "k", 20...30, "a", 5),
            read(3, "k", 40...50, "a", 5),
            write(3, "k", "b", if: .revision(5), 60...70, after: "b", 6),
        ])
        // A later write's revision must be above the one the read showed.
        assertNotLinearizable(
            [
                put(1, "k", "a", 0...10),
                read(2, "k", 20...30, "a", 5),
                write(1, "k", "b", 40...50, after: "b", 5),
            ], key: "k")
    }

    func testARevisionConditionAppliesExactlyWhenItHolds() {
        assertLinearizable([
            write(1, "k", "a", 0...10, after: "a", 3),
            write(2, "k", "b", if: .revision(3), 20...30, after: "b", 4),
            write(3, "k", "c", if: .revision(3), 40...50, applied: false, after: "b", 4),
        ])
        assertNotLinearizable(
            [
                write(1, "k", "a", 0...10, after: "a", 3),
                write(2, "k", "b", if: .revision(2), 20...30, after: "b", 4),
            ], key: "k")
        assertNotLinearizable(
            [
                write(1, "k", "a", 0...10, after: "a", 3),
                write(2, "k", "b", if: .revision(3), 20...30, applied: false, after: "a", 3),
            ], key: "k")
    }

    func testTwoConcurrentWritesOnTheSameRevisionCannotBothApply() {
        assertNotLinearizable(
            [
                write(1, "k", "a", 0...10, after: "a", 3),
                write(2, "k", "b", if: .revision(3), 20...40, after: "b", 4),
                write(3, "k", "c", if: .revision(3), 21...41, after: "c", 5),
            ], key: "k")
    }

    func testPutIfAbsent() {
        assertLinearizable([
            write(1, "k", "a", if: .absent, 0...10, after: "a", 1),
            write(2, "k", "b", if: .absent, 20...30, applied: false, after: "a", 1),
            remove(1, "k", 40...50, "a", 1),
            write(2, "k", "c", if: .absent, 60...70, after: "c", 3),
        ])
        assertNotLinearizable(
            [
                write(1, "k", "a", if: .absent, 0...10, after: "a", 1),
                write(2, "k", "b", if: .absent, 20...30, after: "b", 2),
            ], key: "k")
    }

    func testATimedOutWriteOnARevisionNoAnswerShowedMayHaveAppliedOrNot() {
        for applied in [false, true] {
            assertLinearizable(
                [
                    put(1, "k", "a", 0...10),
                    write(2, "k", "b", if: .revision(7), timedOutAfter: 20),
                    read(3, "k", 100...110, applied ? "b" : "a", applied ? 8 : 7),
                ], "applied \(applied)")
        }
        // Applied, it proves the put's revision was 7; a read of 9 then cannot be the put's.
        assertNotLinearizable(
            [
                put(1, "k", "a", 0...10),
                write(2, "k", "b", if: .revision(7), 20...30, after: "b", 8),
                write(2, "k", "c", 40...50, after: "c", 12),
                delete(2, "k", 60...70, existed: true),
                put(1, "k", "a", 80...90),
                read(3, "k", 100...110, "a", 11),
            ], key: "k")
    }

    func testAnAddAddsToTheValueAndRefusesOtherValues() {
        assertLinearizable([
            add(1, "n", 5, 0...10, after: "5", 1),
            add(2, "n", -2, 20...30, after: "3", 2),
            put(1, "n", "x", 40...50),
            add(2, "n", 1, 60...70, applied: false, after: "x", 3),
            write(1, "n", "007", 80...90, after: "007", 5),
            add(2, "n", 1, 100...110, applied: false, after: "007", 5),
        ])
        assertNotLinearizable(
            [
                add(1, "n", 5, 0...10, after: "5", 1),
                add(2, "n", 1, 20...30, after: "7", 2),
            ], key: "n")
        assertNotLinearizable([add(1, "n", 5, 0...10, applied: false, after: nil, 0)], key: "n")
    }

    func testAnAddOnAPutHashValueCounts() {
        // PutHash stores a decimal number, which an add reads as an integer.
        let hash = hashed("", "a")
        assertLinearizable([
            putHash(1, "n", "a", 0...10, previous: ""),
            add(2, "n", 1, 20...30, after: String(Int64(hash)! + 1), 2),
        ])
    }
}
