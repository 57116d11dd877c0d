import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// Every log record type reads back as written.
final class LogRecordRoundTripTests: XCTestCase {
    private func roundTrip(_ records: [LogRecord], file: StaticString = #filePath, line: UInt = #line) {
        var log = LogFileBuilder(generation: 3, firstLSN: 10)
        log.write(records)
        let scan = log.scan()
        XCTAssertEqual(scan.ending, .clean, file: file, line: line)
        XCTAssertEqual(scan.entries, log.entries, file: file, line: line)
        XCTAssertEqual(scan.validEnd, log.bytes.count, file: file, line: line)
        XCTAssertEqual(scan.lastLSN, 10 + UInt64(records.count) - 1, file: file, line: line)
    }

    func testUpdates() {
        roundTrip([
            setRecord("key", "value", client: 1, seq: 2),
            deleteRecord("key", client: .max, seq: .max),
            setRecord("", "", client: 0, seq: 0),
            setRecord("k", "v", reply: ClientReply(status: .invalid, value: b("value too large"))),
            setRecord("k", "v", reply: ClientReply(status: .ok, value: b("previous"))),
        ])
        for status in ReplyStatus.allCases {
            roundTrip([setRecord("k", "v", reply: ClientReply(status: status, value: b("\(status)")))])
        }
    }

    func testLargestKeyAndValue() {
        let update = ForwardedUpdate(
            change: .put(
                Bytes(repeating: 0x4B, count: Limits.maxKeySize),
                StoredValue(value: Bytes(repeating: 0x56, count: Limits.maxValueSize), revision: 9, expiresAt: 1)),
            revision: 9, clientID: 1, seq: 1,
            reply: ClientReply(status: .ok, value: Bytes(repeating: 0x52, count: Limits.maxValueSize)))
        roundTrip([.record(.update(update))])
    }

    /// Every kind of store change, a transaction's reply with its outcome (nested, every
    /// kind of result), and an expiry no client asked for.
    func testEveryStoreChangeAndOutcome() {
        let stored = StoredValue(value: b("v"), revision: 4, expiresAt: 1_700_000_000_123)
        let changes: [StoreChange] = [
            .none, .put(b("k"), stored), .setDeadline(b("k"), expiresAt: .max, revision: 5), .delete(b("k")),
            .deleteAll, .several([.put(b("a"), stored), .delete(b("b")), .deleteAll, .none]), .several([]),
        ]
        let inner = TxnOutcome(succeeded: false, results: [.error(.overflow)], revision: 3, now: 2)
        let outcome = TxnOutcome(
            succeeded: true,
            results: [
                .done, .value(nil), .value(stored), .integer(-7), .bytes(b("3.5")),
                .range([RangeItem(key: b("a"), value: stored), RangeItem(key: b("b"), value: nil)], next: b("c")),
                .range([], next: nil), .error(.notInteger), .txn(inner),
            ], revision: 6, now: 1_700_000_000_000)
        roundTrip(
            changes.enumerated().map { index, change in
                .record(
                    .update(
                        ForwardedUpdate(
                            change: change, revision: UInt64(index), clientID: 3, seq: UInt64(index),
                            reply: ClientReply(outcome: outcome))))
            })
        roundTrip([
            .record(
                .update(
                    ForwardedUpdate(
                        change: .several([.delete(b("x")), .delete(b("y"))]), revision: 9,
                        clientID: ForwardedUpdate.noClient, seq: 0, reply: ClientReply(status: .ok))))
        ])
    }

    func testClaims() {
        roundTrip([
            claimRecord(.primary, 1),
            claimRecord(.backup, .max),
            .record(.claim(StateClaim(role: .primary, viewnum: 5, primary: "", backup: ""))),
            .record(.claim(StateClaim(role: .backup, viewnum: 6, primary: "prïmary:1", backup: "bäckup:2"))),
        ])
    }

    func testClaimWithLongestAddresses() {
        let longest = String(repeating: "a", count: Int(UInt16.max))
        roundTrip([.record(.claim(StateClaim(role: .primary, viewnum: 9, primary: longest, backup: longest)))])
    }

    func testServerStarts() {
        roundTrip(FsyncPolicy.allCases.map { .start(start(UInt64($0.rawValue), policy: $0)) })
        roundTrip([.start(ServerStart(incarnation: .max, bootID: [UInt8](repeating: 0xFF, count: 16), policy: .no))])
    }

    func testMixedWrites() {
        var log = LogFileBuilder(generation: 1, firstLSN: 1)
        log.write([.start(start(1))])
        log.write([claimRecord(.primary, 4), setRecord("a", "1"), setRecord("b", "2", client: 2)])
        log.write([deleteRecord("a", client: 3)])
        let scan = log.scan()
        XCTAssertEqual(scan.ending, .clean)
        XCTAssertEqual(scan.entries, log.entries)
        XCTAssertEqual(scan.entries.map(\.lsn), [1, 2, 3, 4, 5])
    }

    func testEmptyLogHasNoRecords() {
        let log = LogFileBuilder(generation: 2, firstLSN: 101)
        let scan = log.scan()
        XCTAssertEqual(scan.ending, .clean)
        XCTAssertEqual(scan.entries, [])
        XCTAssertEqual(scan.lastLSN, 100)
        XCTAssertEqual(scan.validEnd, log.bytes.count)
    }
}
