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
        let (bytes, contents) = try assertRoundTrip(
            KeyValueStore(values: store), duplicates: duplicates, claim: claim, start: start, file: file, line: line)
        XCTAssertEqual(contents.store.values, store, file: file, line: line)
        XCTAssertEqual(
            contents.store.bytes, store.reduce(0) { $0 + $1.key.count + $1.value.count }, file: file, line: line)
        return bytes
    }

    /// Encodes and decodes `store`: its values, revisions, deadlines and revision counter
    /// (`==`), and what the store derives from them, must come back.
    private func assertRoundTrip(
        _ store: KeyValueStore, duplicates: [DuplicateEntry], claim: StateClaim?, start: ServerStart?,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> (bytes: [UInt8], contents: SnapshotContents) {
        let bytes = SnapshotEncoder.encode(
            store: store, duplicates: duplicates, generation: 3, lsn: 77, claim: claim, start: start)
        let contents = try SnapshotDecoder.decode(bytes)
        XCTAssertEqual(contents.generation, 3, file: file, line: line)
        XCTAssertEqual(contents.lsn, 77, file: file, line: line)
        XCTAssertEqual(contents.claim, claim, file: file, line: line)
        XCTAssertEqual(contents.start, start, file: file, line: line)
        XCTAssertEqual(contents.store, store, file: file, line: line)
        XCTAssertEqual(contents.store.revision, store.revision, file: file, line: line)
        XCTAssertEqual(contents.store.bytes, store.bytes, file: file, line: line)
        XCTAssertEqual(contents.store.expiring, store.expiring, file: file, line: line)
        XCTAssertEqual(contents.store.keysInOrder, store.keysInOrder, file: file, line: line)
        XCTAssertEqual(contents.duplicates, duplicates, file: file, line: line)
        return (bytes, contents)
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

    /// Keys with deadlines and revisions of their own, and a store revision above every
    /// key's (a delete and a deadline removed advance it), read back as written; the
    /// deadlines are due again, earliest first.
    func testDeadlinesAndRevisionsRoundTrip() throws {
        var store = KeyValueStore()
        store.apply(.put(b("a"), StoredValue(value: b("1"), revision: 1, expiresAt: 5_000)), revision: 1)
        store.apply(.put(b("b"), StoredValue(value: b("2"), revision: 2)), revision: 2)
        store.apply(
            .several([
                .put(b("c"), StoredValue(value: b("3"), revision: 3, expiresAt: 4_000)),
                .setDeadline(b("b"), expiresAt: 9_000, revision: 3),
            ]), revision: 3)
        store.apply(.put(b("gone"), StoredValue(value: b("x"), revision: 4)), revision: 4)
        store.apply(.delete(b("gone")), revision: 5)
        store.apply(.put(b("d"), StoredValue(value: b("4"), revision: 6, expiresAt: 7_000)), revision: 6)
        store.apply(.setDeadline(b("d"), expiresAt: StoredValue.never, revision: 7), revision: 7)
        store.apply(.delete(b("absent")), revision: 8)
        XCTAssertEqual(store.revision, 8)
        XCTAssertEqual(store.entries.values.map(\.revision).max(), 7)

        var (_, contents) = try assertRoundTrip(store, duplicates: duplicates(3), claim: claim, start: start(5))
        XCTAssertEqual(contents.store[b("a")], StoredValue(value: b("1"), revision: 1, expiresAt: 5_000))
        XCTAssertEqual(contents.store[b("b")], StoredValue(value: b("2"), revision: 3, expiresAt: 9_000))
        XCTAssertEqual(contents.store[b("c")], StoredValue(value: b("3"), revision: 3, expiresAt: 4_000))
        XCTAssertEqual(contents.store[b("d")], StoredValue(value: b("4"), revision: 7))
        XCTAssertEqual(contents.store.revision, 8)
        XCTAssertEqual(contents.store.expiring, 3)
        XCTAssertEqual(contents.store.expired(at: 6_000, limit: 10), [b("c"), b("a")])
        XCTAssertEqual(contents.store.expired(at: 9_000, limit: 10), [b("b")])

        // The revision counter alone: no key left, every one deleted.
        var emptied = KeyValueStore()
        emptied.apply(.put(b("k"), StoredValue(value: b("v"), revision: 11)), revision: 11)
        emptied.apply(.deleteAll, revision: 12)
        (_, contents) = try assertRoundTrip(emptied, duplicates: [], claim: nil, start: nil)
        XCTAssertEqual(contents.store.count, 0)
        XCTAssertEqual(contents.store.revision, 12)
    }

    /// An entry and the end record, laid out as docs/STORAGE.md says: the encoder writes
    /// those bytes, and the decoder reads them as that store.
    func testEntryAndEndRecordBytes() throws {
        var store = KeyValueStore()
        store.put(b("k"), StoredValue(value: b("vv"), revision: 0x0102, expiresAt: 0x0A0B_0C0D))
        store.advanceRevision(to: 0x0304)
        let crafted = snapshot([
            headerPayload(keys: 1, duplicates: 0),
            entriesPayload([("k", "vv", revision: 0x0102, deadline: 0x0A0B_0C0D)]),
            endPayload(keys: 1, duplicates: 0, revision: 0x0304),
        ])
        XCTAssertEqual(
            SnapshotEncoder.encode(store: store, duplicates: [], generation: 3, lsn: 77, claim: nil, start: nil),
            crafted)
        let contents = try SnapshotDecoder.decode(crafted)
        XCTAssertEqual(contents.store, store)
        XCTAssertEqual(contents.store.revision, 0x0304)
    }

    /// A version-1 snapshot (entries without revisions or deadlines, no store revision)
    /// is refused at its header, not misread.
    func testAVersion1SnapshotIsRefused() {
        var header = headerPayload(keys: 1, duplicates: 0)
        header[2] = 1
        let version1 = snapshot([
            header, [0x21, 0, 0, 0, 1, 0, 0, 0, 1, 0x6b, 0, 0, 0, 1, 0x76],
            [0x23] + bigEndian(1) + bigEndian(0),
        ])
        XCTAssertThrowsError(try SnapshotDecoder.decode(version1)) {
            XCTAssertTrue("\($0)".contains("unknown format version 1"), "\($0)")
        }
    }

    /// Taking the bytes as they come gives the same file as encoding it whole.
    func testStreamingGivesTheSameBytes() throws {
        let store = KeyValueStore(values: store(keys: 3000))
        let duplicates = duplicates(3000)
        let whole = SnapshotEncoder.encode(
            store: store, duplicates: duplicates, generation: 3, lsn: 77, claim: claim, start: nil)
        var encoder = SnapshotEncoder(
            generation: 3, lsn: 77, claim: claim, start: nil, keyCount: store.count, duplicateCount: duplicates.count,
            revision: store.revision)
        var streamed: [UInt8] = []
        var takes = 0
        store.forEachEntry { key, value in
            encoder.addEntry(key: key, value: value)
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
            payload: endPayload(keys: 3, duplicates: 2), lsn: 4, batchFirst: 0, batchLast: 0)
        XCTAssertThrowsError(try SnapshotDecoder.decode(bytes + anotherEnd))
    }

    func testCountsMustMatchTheHeaderAndWhatWasRead() {
        let twoEntries = entriesPayload([("a", "1", 1, 0), ("b", "2", 1, 0)])
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
                    headerPayload(keys: 2, duplicates: 0), entriesPayload([("a", "1", 1, 0), ("a", "2", 1, 0)]),
                    endPayload(keys: 2, duplicates: 0),
                ]))
        ) { XCTAssertTrue("\($0)".contains("key repeated"), "\($0)") }
    }

    func testRecordsOutOfOrderAreDamage() {
        let header = headerPayload(keys: 2, duplicates: 1)
        let first = entriesPayload([("a", "1", 1, 0)])
        let second = entriesPayload([("b", "2", 1, 0)])
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
        [0x20, 0x00, 0x02] + bigEndian(3) + bigEndian(77) + [0, 0] + bigEndian(keys) + bigEndian(duplicates)
    }

    /// Each entry: key, value (`bytes`), the key's revision, its deadline (`u64`).
    private func entriesPayload(_ entries: [(key: String, value: String, revision: UInt64, deadline: UInt64)])
        -> [UInt8]
    {
        var payload: [UInt8] = [0x21] + bigEndian32(UInt32(entries.count))
        for entry in entries {
            payload += bigEndian32(UInt32(entry.key.utf8.count)) + b(entry.key)
            payload += bigEndian32(UInt32(entry.value.utf8.count)) + b(entry.value)
            payload += bigEndian(entry.revision) + bigEndian(entry.deadline)
        }
        return payload
    }

    private func endPayload(keys: UInt64, duplicates: UInt64, revision: UInt64 = 1) -> [UInt8] {
        [0x23] + bigEndian(keys) + bigEndian(duplicates) + bigEndian(revision)
    }
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
