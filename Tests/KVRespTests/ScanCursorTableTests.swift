import KVProtocol
import XCTest

@testable import KVResp

/// SCAN's cursors: never 0, found again from any connection, and unknown once their
/// slot of the ring has been reused.
final class ScanCursorTableTests: XCTestCase {
    func testACursorResumesAtItsKeyAndIsNeverZero() {
        let table = ScanCursorTable()
        let first = table.cursor(resumingAt: Array("b".utf8))
        let second = table.cursor(resumingAt: Array("c".utf8))
        XCTAssertNotEqual(first, 0)
        XCTAssertNotEqual(first, second)
        XCTAssertEqual(table.key(for: first), Array("b".utf8))
        XCTAssertEqual(table.key(for: second), Array("c".utf8))
        XCTAssertNil(table.key(for: 0))
        XCTAssertNil(table.key(for: 12345), "a cursor never given")
    }

    func testACursorWhoseSlotWasReusedIsUnknown() {
        let table = ScanCursorTable()
        let old = table.cursor(resumingAt: Array("old".utf8))
        var last: UInt64 = 0
        for index in 0..<ScanCursorTable.slotCount { last = table.cursor(resumingAt: Array("k\(index)".utf8)) }
        XCTAssertNil(table.key(for: old), "its slot now holds another walk's key")
        XCTAssertEqual(table.key(for: last), Array("k\(ScanCursorTable.slotCount - 1)".utf8))
        XCTAssertLessThan(last, UInt64(Int64.max), "fits clients that read cursors as signed")
    }
}

extension ScanCursorTableTests {
    /// Large keys cannot make the ring hold more than its budget: the oldest cursors go.
    func testTheKeysHeldStayWithinTheBudgetOldestFirst() {
        let table = ScanCursorTable()
        let key = Bytes(repeating: 0x6B, count: 64 * 1024)
        let first = table.cursor(resumingAt: key)
        var cursors: [UInt64] = [first]
        for _ in 0..<(ScanCursorTable.maxKeyBytes / key.count + 10) { cursors.append(table.cursor(resumingAt: key)) }
        XCTAssertNil(table.key(for: first), "the oldest went to stay within the budget")
        XCTAssertEqual(table.key(for: cursors.last!), key)
        let kept = cursors.filter { table.key(for: $0) != nil }.count
        XCTAssertLessThanOrEqual(kept * key.count, ScanCursorTable.maxKeyBytes)
        XCTAssertGreaterThan(kept * key.count, ScanCursorTable.maxKeyBytes - key.count)
    }
}
