import KVProtocol
import KVStorage
import XCTest

/// How a log's valid prefix ends: clean, a torn tail (the last write cut short), or damage.
final class LogScanTests: XCTestCase {
    /// Three writes: lsn 1, lsn 2...4, lsn 5...6.
    private func threeWrites(valueSize: Int = 3) -> LogFileBuilder {
        var log = LogFileBuilder(generation: 2, firstLSN: 1)
        let value = String(repeating: "v", count: valueSize)
        log.write([.start(start(1))])
        log.write([setRecord("a", value), setRecord("b", value, client: 2), claimRecord(.primary, 3)])
        log.write([setRecord("c", value, client: 3), deleteRecord("a", client: 4)])
        return log
    }

    private func assertTorn(
        _ scan: LogScanResult, at offset: Int, keeping lsns: ClosedRange<UInt64>?, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertEqual(scan.ending, .tornTail(offset: offset), file: file, line: line)
        XCTAssertEqual(scan.validEnd, offset, file: file, line: line)
        XCTAssertEqual(scan.entries.map(\.lsn), lsns.map { Array($0) } ?? [], file: file, line: line)
    }

    private func assertDamaged(
        _ scan: LogScanResult, at offset: Int, saying fragment: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        guard case .damaged(let at, let reason) = scan.ending else {
            return XCTFail("expected damage, got \(scan.ending)", file: file, line: line)
        }
        XCTAssertEqual(at, offset, reason, file: file, line: line)
        XCTAssertEqual(scan.validEnd, offset, file: file, line: line)
        XCTAssertTrue(reason.contains(fragment), reason, file: file, line: line)
    }

    func testCleanLog() {
        let log = threeWrites()
        let scan = log.scan()
        XCTAssertEqual(scan.ending, .clean)
        XCTAssertEqual(scan.entries, log.entries)
        XCTAssertEqual(scan.validEnd, log.bytes.count)
        XCTAssertEqual(scan.fileName, "log-0000000000000002.kvl")
    }

    // MARK: - Torn tails

    func testTruncatedMidRecordIsATornTail() {
        let log = threeWrites()
        let last = log.writes[2].recordStarts[1]
        assertTorn(log.scan(Array(log.bytes[..<(last + 40)])), at: last, keeping: 1...5)
        // Inside the padding: the record is whole but its write did not finish.
        assertTorn(log.scan(Array(log.bytes[..<(log.bytes.count - 1)])), at: last, keeping: 1...5)
    }

    func testTruncatedMidHeaderIsATornTail() {
        let log = threeWrites()
        let write = log.writes[2].start
        for cut in [write + 3, write + 8, write + 20, write + 31] {
            assertTorn(log.scan(Array(log.bytes[..<cut])), at: write, keeping: 1...4)
        }
    }

    func testZeroFilledTailIsATornTail() {
        // The file was extended but the last write's data never reached the disk.
        let log = threeWrites()
        var bytes = log.bytes
        for index in log.writes[2].start..<bytes.count { bytes[index] = 0 }
        assertTorn(log.scan(bytes), at: log.writes[2].start, keeping: 1...4)
        // Or a whole record of zeros beyond the end of the file's data.
        assertTorn(log.scan(log.bytes + [UInt8](repeating: 0, count: 4096)), at: log.bytes.count, keeping: 1...6)
    }

    func testZeroFilledSectorInTheLastRecordIsATornTail() {
        let log = threeWrites(valueSize: 2000)
        let last = log.writes[2].recordStarts[0]
        var bytes = log.bytes
        // A sector in the middle of the record's value never reached the disk.
        let sector = (last / 512 + 2) * 512
        for index in sector..<sector + 512 { bytes[index] = 0 }
        assertTorn(log.scan(bytes), at: last, keeping: 1...4)
    }

    func testCutWriteWhoseLaterRecordsSurvivedIsATornTail() {
        var log = threeWrites()
        log.write([
            setRecord("x", String(repeating: "x", count: 3000)), setRecord("y", String(repeating: "y", count: 3000)),
            setRecord("z", "z"),
        ])
        let write = log.writes[3]
        // The write's first record lost a sector; its second and third made it.
        var bytes = log.bytes
        let sector = (write.recordStarts[0] / 512 + 2) * 512
        for index in sector..<sector + 512 { bytes[index] = 0 }
        assertTorn(log.scan(bytes), at: write.recordStarts[0], keeping: 1...6)
        // The write's second record lost one: its first is kept (it is valid), the third survived.
        bytes = log.bytes
        let secondSector = (write.recordStarts[1] / 512 + 2) * 512
        for index in secondSector..<secondSector + 512 { bytes[index] = 0 }
        assertTorn(log.scan(bytes), at: write.recordStarts[1], keeping: 1...7)
    }

    /// After recovery kept the first records of a write cut short, the writer goes on with
    /// a new write; that log reads clean, and a tear of the new write is still a tear.
    func testNewWriteAfterAWriteCutShort() {
        var log = LogFileBuilder(generation: 1, firstLSN: 1)
        log.write([setRecord("a", "1"), setRecord("b", "2"), setRecord("c", "3")])
        var bytes = Array(log.bytes[..<log.writes[0].recordStarts[2]])
        let continued = bytes.count
        LogEncoder.encodeBatch(
            [
                LogEntry(lsn: 3, record: setRecord("d", String(repeating: "4", count: 2000))),
                LogEntry(lsn: 4, record: setRecord("e", "5")),
            ], into: &bytes)
        let scan = LogScan.scan(bytes, generation: 1, expectedFirstLSN: 1)
        XCTAssertEqual(scan.ending, .clean)
        XCTAssertEqual(scan.entries.map(\.lsn), [1, 2, 3, 4])
        let sector = (continued / 512 + 2) * 512
        for index in sector..<sector + 512 { bytes[index] = 0 }
        assertTorn(LogScan.scan(bytes, generation: 1, expectedFirstLSN: 1), at: continued, keeping: 1...2)
    }

    // MARK: - Damage

    func testFlippedBitInAnEarlierWriteIsDamage() {
        let log = threeWrites()
        let record = log.writes[1].recordStarts[1]
        var bytes = log.bytes
        bytes[record + 40] ^= 0x01
        assertDamaged(log.scan(bytes), at: record, saying: "checksum mismatch")
        XCTAssertEqual(log.scan(bytes).entries.map(\.lsn), [1, 2])
    }

    func testFlippedBitInTheLastRecordIsDamageNotATear() {
        let log = threeWrites()
        let last = log.writes[2].recordStarts[1]
        for offset in [last, last + 4, last + 12, last + 33, log.bytes.count - 8] {
            var bytes = log.bytes
            bytes[offset] ^= 0x20
            let scan = log.scan(bytes)
            guard case .damaged(let at, _) = scan.ending else {
                XCTFail("byte \(offset): expected damage, got \(scan.ending)")
                continue
            }
            XCTAssertEqual(at, last)
        }
    }

    func testNonZeroPaddingIsDamage() {
        var log = LogFileBuilder()
        log.write([setRecord("k", "v")])  // 33-byte payload: 7 bytes of padding
        var bytes = log.bytes
        bytes[bytes.count - 1] = 1
        assertDamaged(log.scan(bytes), at: log.writes[0].start, saying: "padding")
    }

    func testLsnGapIsDamage() {
        var bytes = LogEncoder.encodeLogHeader(generation: 1, firstLSN: 1)
        LogEncoder.encodeBatch(
            [LogEntry(lsn: 1, record: setRecord("a", "1")), LogEntry(lsn: 2, record: setRecord("b", "2"))], into: &bytes
        )
        let gap = bytes.count
        LogEncoder.encodeBatch([LogEntry(lsn: 4, record: setRecord("c", "3"))], into: &bytes)
        let scan = LogScan.scan(bytes, generation: 1, expectedFirstLSN: 1)
        assertDamaged(scan, at: gap, saying: "a gap")
        XCTAssertEqual(scan.entries.map(\.lsn), [1, 2])
    }

    func testLsnRepeatIsDamage() {
        var bytes = LogEncoder.encodeLogHeader(generation: 1, firstLSN: 1)
        LogEncoder.encodeBatch([LogEntry(lsn: 1, record: setRecord("a", "1"))], into: &bytes)
        let repeated = bytes.count
        LogEncoder.encodeBatch([LogEntry(lsn: 1, record: setRecord("a", "1"))], into: &bytes)
        assertDamaged(LogScan.scan(bytes, generation: 1, expectedFirstLSN: 1), at: repeated, saying: "a repeat")
    }

    func testRecordOfALaterWriteAfterAZeroedRegionIsDamage() {
        let log = threeWrites()
        let second = log.writes[1].recordStarts[1]
        var bytes = log.bytes
        // Record 3 zeroed: record 4 (same write) would be fine, but 5 and 6 are a later write.
        for index in second..<log.writes[1].recordStarts[2] { bytes[index] = 0 }
        assertDamaged(log.scan(bytes), at: second, saying: "a valid record of a later write follows (lsn 5")
        // Zeroed up to the end of that write: still a later write after it.
        for index in second..<log.writes[1].end { bytes[index] = 0 }
        assertDamaged(log.scan(bytes), at: second, saying: "later write")
        // The same zeroes in the last write are a tear.
        var last = log.bytes
        for index in log.writes[2].recordStarts[0]..<log.writes[2].recordStarts[1] { last[index] = 0 }
        assertTorn(log.scan(last), at: log.writes[2].recordStarts[0], keeping: 1...4)
    }

    func testRecordsThatBreakTheirWriteAreDamage() {
        let header = LogEncoder.encodeLogHeader(generation: 1, firstLSN: 1)
        let one = framedRecord(payload: updatePayload, lsn: 1, batchFirst: 1, batchLast: 1)
        // After a finished write, a record that does not start one.
        assertDamaged(
            LogScan.scan(
                header + one + framedRecord(payload: updatePayload, lsn: 2, batchFirst: 1, batchLast: 2), generation: 1,
                expectedFirstLSN: 1),
            at: header.count + one.count, saying: "does not start a write")
        // Inside a write, a record of another write.
        let open = framedRecord(payload: updatePayload, lsn: 1, batchFirst: 1, batchLast: 3)
        assertDamaged(
            LogScan.scan(
                header + open + framedRecord(payload: updatePayload, lsn: 2, batchFirst: 1, batchLast: 4),
                generation: 1, expectedFirstLSN: 1),
            at: header.count + open.count, saying: "neither continues")
        // An lsn outside its own write.
        assertDamaged(
            LogScan.scan(
                header + framedRecord(payload: updatePayload, lsn: 1, batchFirst: 2, batchLast: 3), generation: 1,
                expectedFirstLSN: 1),
            at: header.count, saying: "outside")
    }

    func testUndecodablePayloadIsDamage() {
        let header = LogEncoder.encodeLogHeader(generation: 1, firstLSN: 1)
        // An unknown change; a multi-change inside another; an unknown reply status; an
        // outcome flagged but missing.
        var unknownStatus = updatePayload
        unknownStatus[unknownStatus.count - 5] = 0x06
        var missingOutcome = updatePayload
        missingOutcome[missingOutcome.count - 5] = 0x80
        let payloads: [[UInt8]] = [
            [0x7F], [0x10, 0x09], [0x23] + [UInt8](repeating: 0, count: 16), updatePayload + [0],
            [0x10, 0x05, 0, 0, 0, 1, 0x05, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 29), unknownStatus,
            missingOutcome,
        ]
        for payload in payloads {
            assertDamaged(
                LogScan.scan(
                    header + framedRecord(payload: payload, lsn: 1, batchFirst: 1, batchLast: 1), generation: 1,
                    expectedFirstLSN: 1),
                at: header.count, saying: "does not decode")
        }
    }

    func testBadHeaderIsDamage() {
        let log = threeWrites()
        assertDamaged(LogScan.scan(log.bytes, generation: 3, expectedFirstLSN: 1), at: 0, saying: "generation 2")
        assertDamaged(LogScan.scan(log.bytes, generation: 2, expectedFirstLSN: 5), at: 0, saying: "first lsn 1")
        assertDamaged(LogScan.scan([], generation: 2, expectedFirstLSN: 1), at: 0, saying: "log header")
        assertDamaged(
            LogScan.scan(Array(log.bytes[..<20]), generation: 2, expectedFirstLSN: 1), at: 0, saying: "log header")
        var flipped = log.bytes
        flipped[35] ^= 1
        assertDamaged(LogScan.scan(flipped, generation: 2, expectedFirstLSN: 1), at: 0, saying: "checksum")
        let notAHeader = framedRecord(payload: updatePayload, lsn: 0, batchFirst: 0, batchLast: 0)
        assertDamaged(LogScan.scan(notAHeader, generation: 2, expectedFirstLSN: 1), at: 0, saying: "not a log header")
        // A version-1 log (updates without revisions): refused at its header.
        let version1: [UInt8] =
            [0x01, 0x00, 0x01] + bigEndian(2) + bigEndian(1)
        assertDamaged(
            LogScan.scan(
                framedRecord(payload: version1, lsn: 0, batchFirst: 0, batchLast: 0), generation: 2,
                expectedFirstLSN: 1),
            at: 0, saying: "unknown format version 1")
    }

    /// put "k" = "v" at revision 1, client 7, seq 1, reply ok.
    private let updatePayload: [UInt8] =
        [0x10, 0x01, 0, 0, 0, 1, 0x6b, 0, 0, 0, 1, 0x76] + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 0]
        + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 7] + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0]
}
