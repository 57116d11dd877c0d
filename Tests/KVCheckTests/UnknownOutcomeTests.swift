import KVCheck
import XCTest

/// Operations whose client timed out may have taken effect at any time after their
/// invocation, or never.
final class UnknownOutcomeTests: XCTestCase {
    func testATimedOutWriteMayHaveHappenedOrNot() {
        for seen in ["1", "2"] {
            assertLinearizable(
                [
                    put(1, "k", "1", 0...10),
                    put(2, "k", "2", timedOutAfter: 20),
                    get(3, "k", 30...40, seen),
                ], "read \(seen)")
        }
    }

    func testATimedOutWriteMayTakeEffectLongAfterItsClientGaveUp() {
        // Seen only by the last read: the put was delayed (say, retried by the server).
        assertLinearizable([
            put(2, "k", "late", timedOutAfter: 5),
            get(1, "k", 10...20, nil),
            get(1, "k", 30...40, nil),
            get(1, "k", 1000...1010, "late"),
        ])
    }

    func testOnceSeenATimedOutWriteCannotBeUndone() {
        assertNotLinearizable(
            [
                put(1, "k", "1", 0...10),
                put(2, "k", "2", timedOutAfter: 20),
                get(3, "k", 30...40, "2"),
                get(3, "k", 50...60, "1"),
            ], key: "k")
    }

    func testATimedOutWriteCannotTakeEffectBeforeItsInvocation() {
        assertNotLinearizable([get(1, "k", 0...10, "2"), put(2, "k", "2", timedOutAfter: 20)], key: "k")
    }

    func testTimedOutPutHashesMayApplyInEitherOrderOrNotAtAll() {
        let xy = hashed(hashed("a", "x"), "y")
        let yx = hashed(hashed("a", "y"), "x")
        for seen in ["a", hashed("a", "x"), hashed("a", "y"), xy, yx] {
            assertLinearizable(
                [
                    put(1, "k", "a", 0...10),
                    putHash(2, "k", "x", timedOutAfter: 20),
                    putHash(3, "k", "y", timedOutAfter: 21),
                    get(4, "k", 30...40, seen),
                ], "read \(seen)")
        }
    }

    func testAValueNeitherInterpretationExplainsIsRejected() {
        // Applied or not, the puthash leaves "a" or hash("a" + "x"), never "zzz".
        let explanation = assertNotLinearizable(
            [
                put(1, "k", "a", 0...10),
                putHash(2, "k", "x", timedOutAfter: 20),
                get(3, "k", 30...40, "zzz"),
            ], key: "k")
        XCTAssertTrue(explanation.contains("client 2 puthash \"k\" \"x\" -> ? [20, ?]"), explanation)
    }

    func testATimedOutPutHashThatHappenedChainsIntoTheNext() {
        // The first puthash timed out, but the second saw its result: it happened, once.
        let first = hashed("", "x")
        assertLinearizable([
            putHash(1, "k", "x", timedOutAfter: 0),
            putHash(2, "k", "y", 10...20, previous: first),
            get(3, "k", 30...40, hashed(first, "y")),
        ])
        // Applied twice (a retry not deduplicated) is not one execution.
        assertNotLinearizable(
            [
                putHash(1, "k", "x", timedOutAfter: 0),
                putHash(2, "k", "y", 10...20, previous: hashed(first, "x")),
            ], key: "k")
    }

    func testATimedOutDeleteMayHaveHappenedOrNot() {
        for seen in [nil, "v"] as [String?] {
            assertLinearizable(
                [
                    put(1, "k", "v", 0...10),
                    delete(2, "k", timedOutAfter: 20),
                    get(3, "k", 30...40, seen),
                ], "read \(String(describing: seen))")
        }
    }

    func testATimedOutGetConstrainsNothing() {
        assertLinearizable([get(1, "k", timedOutAfter: 0), put(2, "k", "v", 5...6), get(3, "k", 7...8, "v")])
    }
}
