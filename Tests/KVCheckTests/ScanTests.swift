import KVCheck
import KVProtocol
import XCTest

/// Scans: every page is a read of each key it covers, and a whole scan returns every key
/// present throughout it at least once.
final class ScanTests: XCTestCase {
    func testAScanOfPagesReturnsWhatIsThere() {
        assertLinearizable([
            write(1, "k1", "a", 0...10, after: "a", 1),
            write(1, "k2", "b", 20...30, after: "b", 2),
            page(2, "k", limit: 1, 40...50, [("k1", "a", 1)], next: "k2"),
            page(2, "k", from: "k2", limit: 1, 60...70, [("k2", "b", 2)]),
        ])
    }

    func testAScanMissingAKeyPresentThroughoutIsAViolation() {
        let history = [
            write(1, "k1", "a", 0...10, after: "a", 1),
            write(1, "k2", "b", 20...30, after: "b", 2),
            page(2, "k", limit: 1, 40...50, [("k1", "a", 1)], next: "k3"),
            page(2, "k", from: "k3", limit: 1, 60...70, []),
        ]
        let explanation = assertNotLinearizable(history, key: "k2")
        XCTAssertTrue(explanation.contains("a scan missed it, though it was present for the whole scan"), explanation)
        XCTAssertTrue(explanation.contains("client 1 write \"k2\" \"b\" -> applied"), explanation)
    }

    func testAKeyDeletedDuringTheScanMayBeMissed() {
        assertLinearizable([
            write(1, "k1", "a", 0...10, after: "a", 1),
            write(1, "k2", "b", 20...30, after: "b", 2),
            page(2, "k", limit: 1, 40...50, [("k1", "a", 1)], next: "k2"),
            delete(3, "k2", 45...55, existed: true),
            page(2, "k", from: "k2", limit: 1, 60...70, []),
        ])
    }

    func testAKeyThatMayExpireDuringTheScanMayBeMissed() {
        assertLinearizable([
            write(1, "k1", "a", 0...10, after: "a", 1),
            write(1, "k2", "b", deadline: 55, 20...30, after: "b", 2),
            page(2, "k", limit: 1, 40...50, [("k1", "a", 1)], next: "k2"),
            page(2, "k", from: "k2", limit: 1, 60...70, []),
        ])
    }

    func testAKeyWrittenDuringTheScanMayBeMissedOrFound() {
        for seen in [[], [("k2", "b", UInt64(2))]] {
            assertLinearizable([
                write(1, "k1", "a", 0...10, after: "a", 1),
                page(2, "k", limit: 1, 40...50, [("k1", "a", 1)], next: "k2"),
                write(1, "k2", "b", 45...65, after: "b", 2),
                page(2, "k", from: "k2", limit: 1, 60...70, seen),
            ])
        }
    }

    func testAPageIsAReadOfEveryKeyItCovers() {
        // The page covers k2 (it stops at k3) and did not return it: k2 was absent then.
        assertNotLinearizable(
            [
                write(1, "k2", "b", 0...10, after: "b", 2),
                page(2, "k", limit: 5, 20...30, [], next: "k3"),
                read(1, "k2", 40...50, "b", 2),
            ], key: "k2")
        // A key after the page's next is not covered.
        assertLinearizable([
            write(1, "k4", "d", 0...10, after: "d", 2),
            page(2, "k", limit: 1, 20...30, [], next: "k3"),
        ])
        assertNotLinearizable(
            [
                write(1, "k1", "a", 0...10, after: "a", 2),
                page(2, "k", 20...30, [("k1", "stale", 1)]),
            ], key: "k1")
    }

    func testAPageReturningAKeyOutsideItsPrefixIsAViolation() {
        let explanation = assertNotLinearizable(
            [
                write(1, "j", "a", 0...10, after: "a", 1),
                page(2, "k", 20...30, [("j", "a", 1)]),
            ], key: "j")
        XCTAssertTrue(explanation.contains("outside the keys it covers"), explanation)
    }
}
