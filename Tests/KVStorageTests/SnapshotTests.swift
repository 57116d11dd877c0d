import KVProtocol
import KVStorage
import ServerCore
import XCTest

final class SnapshotTests: XCTestCase {
    private let claim = StateClaim(role: .backup, viewnum: 17, primary: "10.0.0.1:7000", backup: "10.0.0.2:7000")

    private func store(keys: Int, valueSize: Int = 100) -> [Bytes: Bytes] {
        var store: [Bytes: Bytes] = [:]
        for index in 0..<keys { store[b("key-\(index)")] = Bytes(repeating: UInt8(index % 251), count: valueSize) }
        return store
    }

    private func duplicates(_ count: Int) -> [DuplicateEntry] {
        (0..<count).map {
            DuplicateEntry(
                clientID: UInt64($0) * 7 + 1, seq: UInt64($0), reply: ClientReply(status: .ok, value: b("r\($0)")))
        }
    }

    private func assertRoundTrip(
        store: [Bytes: Bytes], duplicates: [DuplicateEntry], claim: StateClaim?, start: ServerStart?,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> [UInt8] {
        let bytes = SnapshotEncoder.encode(
            store: KeyValueStore(values: store), duplicates: duplicates, generation: 3, lsn: 77, claim: claim,
            start: start)
        let contents = try SnapshotDecoder.decode(bytes)
        XCTAssertEqual(contents.generation, 3, file: file, line: line)
        XCTAssertEqual(contents.lsn, 77, file: file, line: line)
        XCTAssertEqual(contents.claim, claim, file: file, line: line)
        XCTAssertEqual(contents.start, start, file: file, line: line)
        XCTAssertEqual(contents.store, KeyValueStore(values: store), file: file, line: line)
        XCTAssertEqual(
            contents.store.bytes, store.reduce(0) { $0 + $1.key.count + $1.value.count }, file: file, line: line)
        XCTAssertEqual(contents.duplicates, duplicates, file: file, line: line)
        return bytes
    }

    func testEmptySnapshot() throws {
        _ = try assertRoundTrip(store: [:], duplicates: [], claim: nil, start: nil)
        _ = try assertRoundTrip(store: [:], duplicates: [], claim: claim, start: start(4))
    }

    func testEmptyKeysAndValues() throws {
        _ = try assertRoundTrip(
            store: [[]: b("empty key"), b("empty value"): []],
            duplicates: [DuplicateEntry(clientID: 0, seq: 0, reply: ClientReply(status: .noKey))],
            claim: claim, start: nil)
    }

    func testManyKeysSpanSeveralRecords() throws {
        let bytes = try assertRoundTrip(
            store: store(keys: 5000), duplicates: duplicates(5000), claim: claim, start: start(2))
        // About 540 KB of entries and 150 KB of duplicates, in records of about 64 KiB.
        XCTAssertGreaterThanOrEqual(recordOffsets(bytes).count, 1 + 8 + 2 + 1)
    }

    func testALargeValueHasARecordOfItsOwn() throws {
        var store = store(keys: 10)
        store[b("big")] = Bytes(repeating: 9, count: Limits.maxValueSize)
        _ = try assertRoundTrip(store: store, duplicates: [], claim: nil, start: nil)
    }

    /// Taking the bytes as they come gives the same file as encoding it whole.
    func testStreamingGivesTheSameBytes() throws {
        let store = store(keys: 3000)
        let duplicates = duplicates(3000)
        let whole = SnapshotEncoder.encode(
            store: KeyValueStore(values: store), duplicates: duplicates, generation: 3, lsn: 77, claim: claim,
            start: nil)
        var encoder = SnapshotEncoder(
            generation: 3, lsn: 77, claim: claim, start: nil, keyCount: store.count, duplicateCount: duplicates.count,
            revision: 1)
        var streamed: [UInt8] = []
        var takes = 0
        for (key, value) in store {
            encoder.addEntry(key: key, value: StoredValue(value: value, revision: 1))
            if encoder.bufferedByteCount >= 50_000 {
                streamed += encoder.takeBytes()
                takes += 1
            }
        }
        for entry in duplicates { encoder.addDuplicate(entry) }
        encoder.finish()
        streamed += encoder.takeBytes()
        XCTAssertGreaterThan(takes, 2)
        XCTAssertEqual(streamed, whole)
    }

    // MARK: - Damage

    private var small: [UInt8] {
        SnapshotEncoder.encode(
            store: [b("a"): b("1"), b("bb"): b("22"), b("ccc"): []], duplicates: duplicates(2), generation: 3, lsn: 77,
            claim: claim, start: start(1))
    }

    /// Every byte of every record (header, entries, duplicates, end; framing, payload and
    /// padding): a flipped bit anywhere is found, at or inside the record that holds it.
    func testEveryFlippedByteIsDamage() {
        let bytes = small
        let starts = recordOffsets(bytes)
        XCTAssertEqual(starts.count, 4)
        for index in bytes.indices {
            var damaged = bytes
            damaged[index] ^= 0x04
            XCTAssertThrowsError(try SnapshotDecoder.decode(damaged), "byte \(index)") { error in
                guard let error = error as? StorageFormatError else { return XCTFail("\(error)") }
                let record = starts.last { $0 <= index }!
                XCTAssertGreaterThanOrEqual(error.offset, record, "byte \(index): \(error)")
                XCTAssertLessThanOrEqual(error.offset, index, "byte \(index): \(error)")
            }
        }
    }

    func testTruncationIsDamage() {
        let bytes = small
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try SnapshotDecoder.decode(Array(bytes[..<length])), "\(length) bytes")
        }
        let endRecord = recordOffsets(bytes).last!
        XCTAssertThrowsError(try SnapshotDecoder.decode(Array(bytes[..<endRecord]))) { error in
            XCTAssertEqual(
                error as? StorageFormatError,
                StorageFormatError(offset: endRecord, reason: "the file ends without its end record"))
        }
    }

    func testBytesAfterTheEndRecordAreDamage() {
        let bytes = small
        XCTAssertThrowsError(try SnapshotDecoder.decode(bytes + [0, 0, 0, 0, 0, 0, 0, 0])) { error in
            XCTAssertEqual((error as? StorageFormatError)?.offset, bytes.count)
        }
        let anotherEnd = framedRecord(
            payload: [0x23] + bigEndian(3) + bigEndian(2), lsn: 4, batchFirst: 0, batchLast: 0)
        XCTAssertThrowsError(try SnapshotDecoder.decode(bytes + anotherEnd))
    }

    func testCountsMustMatchTheHeaderAndWhatWasRead() {
        let twoEntries = entriesPayload([("a", "1"), ("b", "2")])
        // Fewer entries than the header announces.
        XCTAssertThrowsError(
            try SnapshotDecoder.decode(
                snapshot([headerPayload(keys: 3, duplicates: 0), twoEntries, endPayload(keys: 3, duplicates: 0)]))
        ) { XCTAssertTrue("\($0)".contains("2 keys and 0 duplicates read"), "\($0)") }
        // The end record disagreeing with the header.
        XCTAssertThrowsError(
            try SnapshotDecoder.decode(
                snapshot([headerPayload(keys: 2, duplicates: 0), twoEntries, endPayload(keys: 2, duplicates: 1)]))
        ) { XCTAssertTrue("\($0)".contains("end record counts"), "\($0)") }
        // More entries than announced.
        XCTAssertThrowsError(
            try SnapshotDecoder.decode(
                snapshot([headerPayload(keys: 1, duplicates: 0), twoEntries, endPayload(keys: 1, duplicates: 0)]))
        ) { XCTAssertTrue("\($0)".contains("more entries"), "\($0)") }
        // And right, for contrast.
        XCTAssertEqual(
            try SnapshotDecoder.decode(
                snapshot([headerPayload(keys: 2, duplicates: 0), twoEntries, endPayload(keys: 2, duplicates: 0)])
            ).store, [b("a"): b("1"), b("b"): b("2")])
    }

    func testRepeatedKeyIsDamage() {
        XCTAssertThrowsError(
            try SnapshotDecoder.decode(
                snapshot([
                    headerPayload(keys: 2, duplicates: 0), entriesPayload([("a", "1"), ("a", "2")]),
                    endPayload(keys: 2, duplicates: 0),
                ]))
        ) { XCTAssertTrue("\($0)".contains("key repeated"), "\($0)") }
    }

    func testRecordsOutOfOrderAreDamage() {
        let header = headerPayload(keys: 2, duplicates: 1)
        let first = entriesPayload([("a", "1")])
        let second = entriesPayload([("b", "2")])
        let duplicate: [UInt8] = [0x22, 0, 0, 0, 1] + bigEndian(1) + bigEndian(1) + [0, 0, 0, 0, 0]
        let end = endPayload(keys: 2, duplicates: 1)
        XCTAssertNoThrow(try SnapshotDecoder.decode(snapshot([header, first, second, duplicate, end])))
        XCTAssertThrowsError(try SnapshotDecoder.decode(snapshot([header, first, duplicate, second, end])))
        XCTAssertThrowsError(try SnapshotDecoder.decode(snapshot([first, header, second, duplicate, end])))
        // Record indices that skip one.
        var records = [header, first, second, duplicate, end].enumerated().map {
            framedRecord(payload: $0.element, lsn: UInt64($0.offset), batchFirst: 0, batchLast: 0)
        }
        records[2] = framedRecord(payload: second, lsn: 3, batchFirst: 0, batchLast: 0)
        XCTAssertThrowsError(try SnapshotDecoder.decode(records.flatMap { $0 })) {
            XCTAssertTrue("\($0)".contains("expected record 2"), "\($0)")
        }
    }

    func testLogRecordsHaveNoPlaceInASnapshot() {
        var bytes = snapshot([headerPayload(keys: 0, duplicates: 0)])
        LogEncoder.encodeBatch([LogEntry(lsn: 1, record: setRecord("k", "v"))], into: &bytes)
        XCTAssertThrowsError(try SnapshotDecoder.decode(bytes))
    }

    // MARK: - Crafting

    private func snapshot(_ payloads: [[UInt8]]) -> [UInt8] {
        payloads.enumerated().flatMap {
            framedRecord(payload: $0.element, lsn: UInt64($0.offset), batchFirst: 0, batchLast: 0)
        }
    }

    private func headerPayload(keys: UInt64, duplicates: UInt64) -> [UInt8] {
        [0x20, 0x00, 0x01] + bigEndian(3) + bigEndian(77) + [0, 0] + bigEndian(keys) + bigEndian(duplicates)
    }

    private func entriesPayload(_ entries: [(String, String)]) -> [UInt8] {
        var payload: [UInt8] = [0x21] + bigEndian32(UInt32(entries.count))
        for (key, value) in entries {
            payload += bigEndian32(UInt32(key.utf8.count)) + b(key) + bigEndian32(UInt32(value.utf8.count)) + b(value)
        }
        return payload
    }

    private func endPayload(keys: UInt64, duplicates: UInt64) -> [UInt8] {
        [0x23] + bigEndian(keys) + bigEndian(duplicates)
    }

    private func bigEndian(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    private func bigEndian32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
}

/// Where each record of a well-formed file starts, by walking the lengths.
func recordOffsets(_ bytes: [UInt8]) -> [Int] {
    var offsets: [Int] = []
    var offset = 0
    while offset + 32 <= bytes.count {
        offsets.append(offset)
        let length = (0..<4).reduce(0) { $0 | Int(bytes[offset + 4 + $1]) << (8 * $1) }
        offset += 32 + (length + 7) / 8 * 8
    }
    return offsets
}
