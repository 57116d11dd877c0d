import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// Recovery rebuilds what the data model keeps beyond values: each key's revision and
/// deadline, the store's revision (which a delete advances past every key's), and a
/// duplicate table that updates no client asked for (expiries) never enter.
final class DataModelRecoveryTests: XCTestCase {
    private static let deadline: UInt64 = 1_767_225_600_000

    private static func update(
        _ change: StoreChange, revision: UInt64, client: UInt64, seq: UInt64,
        reply: ClientReply = ClientReply(status: .ok)
    ) -> LogRecord {
        .record(.update(ForwardedUpdate(change: change, revision: revision, clientID: client, seq: seq, reply: reply)))
    }

    private static func put(_ key: String, _ value: String, revision: UInt64, expiresAt: UInt64 = 0) -> StoreChange {
        .put(b(key), StoredValue(value: b(value), revision: revision, expiresAt: expiresAt))
    }

    private static func expiry(_ keys: [String], revision: UInt64) -> LogRecord {
        let change: StoreChange = keys.count == 1 ? .delete(b(keys[0])) : .several(keys.map { .delete(b($0)) })
        return update(change, revision: revision, client: ForwardedUpdate.noClient, seq: 0)
    }

    private static let outcome = TxnOutcome(
        succeeded: true, results: [.done, .integer(1), .value(nil)], revision: 3, now: deadline - 60_000)

    /// Updates as a primary numbers them (lsn 1, 2, ...).
    static let history: [LogRecord] = [
        .start(start(1)),
        claimRecord(.primary, 1),
        update(put("a", "1", revision: 1), revision: 1, client: 5, seq: 1),
        update(put("b", "2", revision: 2, expiresAt: deadline), revision: 2, client: 5, seq: 2),
        // A transaction: a put, a new deadline for "a", a delete of a key that is not there.
        update(
            .several([
                put("c", "3", revision: 3), .setDeadline(b("a"), expiresAt: deadline + 9_000, revision: 3),
                .delete(b("x")),
            ]), revision: 3, client: 6, seq: 1, reply: ClientReply(outcome: outcome)),
        // "b" expired: no client asked.
        expiry(["b"], revision: 4),
        // A transaction whose compares failed: it changes nothing, its reply is kept.
        update(
            .none, revision: 4, client: 6, seq: 2,
            reply: ClientReply(outcome: TxnOutcome(succeeded: false, results: [], revision: 4, now: deadline))),
        // PERSIST "c".
        update(.setDeadline(b("c"), expiresAt: StoredValue.never, revision: 5), revision: 5, client: 5, seq: 3),
        update(put("d", "4", revision: 6, expiresAt: deadline + 1), revision: 6, client: 7, seq: 1),
        update(put("e", "5", revision: 7, expiresAt: deadline + 2), revision: 7, client: 7, seq: 2),
        expiry(["d", "e"], revision: 8),
        .start(start(2)),
    ]

    /// What the history leaves, written out rather than computed.
    private func assertFinalState(
        _ store: KeyValueStore, _ duplicates: DuplicateTable, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(store.count, 2, file: file, line: line)
        XCTAssertEqual(
            store[b("a")], StoredValue(value: b("1"), revision: 3, expiresAt: Self.deadline + 9_000), file: file,
            line: line)
        XCTAssertEqual(store[b("c")], StoredValue(value: b("3"), revision: 5), file: file, line: line)
        XCTAssertEqual(store.revision, 8, "deletes advance it past every key's", file: file, line: line)
        XCTAssertEqual(store.expiring, 1, file: file, line: line)
        XCTAssertEqual(
            duplicates.entriesInOrder().map { [$0.clientID, $0.seq] }, [[6, 2], [5, 3], [7, 2]], file: file,
            line: line)
        XCTAssertNil(duplicates.lookup(ForwardedUpdate.noClient), file: file, line: line)
        XCTAssertEqual(duplicates.lookup(6)?.reply.outcome?.succeeded, false, file: file, line: line)
    }

    private func assertRecovered(
        _ fixture: DataDirectoryFixture, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let lsn = UInt64(Self.history.count)
        guard let state = try fixture.recover().recovered else {
            return XCTFail("not recovered: \(try fixture.recover())", file: file, line: line)
        }
        let expected = fixture.applied(through: lsn)
        XCTAssertEqual(state.lastLSN, lsn, file: file, line: line)
        XCTAssertEqual(state.store, expected.store, file: file, line: line)
        XCTAssertEqual(state.store.bytes, expected.store.bytes, file: file, line: line)
        XCTAssertEqual(state.store.expiring, expected.store.expiring, file: file, line: line)
        XCTAssertEqual(
            state.duplicates.entriesInOrder(), expected.duplicates.entriesInOrder(), file: file, line: line)
        assertFinalState(state.store, state.duplicates, file: file, line: line)
        assertFinalState(expected.store, expected.duplicates, file: file, line: line)
    }

    func testReplayingTheLogAlone() throws {
        var fixture = DataDirectoryFixture(records: Self.history)
        fixture.addLog(1...UInt64(Self.history.count), writeSize: 3)
        try assertRecovered(fixture)
    }

    /// Snapshots taken at every lsn, the log replayed after each.
    func testFromASnapshotAtEveryPoint() throws {
        let last = UInt64(Self.history.count)
        for lsn in 1...last {
            var fixture = DataDirectoryFixture(records: Self.history)
            fixture.addSnapshot(at: lsn)
            if lsn < last { fixture.addLog((lsn + 1)...last) } else { fixture.addEmptyLog(firstLSN: lsn + 1) }
            try assertRecovered(fixture)
        }
    }

    /// The store's revision after a restart is the one before it, when the snapshot holds
    /// the only trace of it (the last updates deleted keys, and no log record follows) and
    /// when the log goes on after the snapshot.
    func testTheStoreRevisionSurvivesRestartsAcrossACompaction() throws {
        let fileSystem = MemoryFileSystem()
        var reference = AppliedState(duplicateCapacity: 10)
        func restart(_ incarnation: UInt64) throws -> StorageEngine<MemoryFileSystem> {
            let engine = StorageEngine(fileSystem: fileSystem, policy: .always)
            let opening = try engine.open(
                start: start(incarnation), duplicateCapacity: 10, setAsideName: "damaged")
            XCTAssertNil(opening.damage)
            XCTAssertEqual(opening.recovered.store, reference.store, "start \(incarnation)")
            XCTAssertEqual(opening.recovered.store.revision, reference.store.revision, "start \(incarnation)")
            XCTAssertEqual(opening.recovered.store.expiring, reference.store.expiring, "start \(incarnation)")
            XCTAssertEqual(
                opening.recovered.duplicates.entriesInOrder(), reference.duplicates.entriesInOrder(),
                "start \(incarnation)")
            return engine
        }
        func append(_ engine: StorageEngine<MemoryFileSystem>, _ records: [LogRecord]) throws {
            let first = engine.lastWritten + 1
            try engine.append(records.enumerated().map { LogEntry(lsn: first + UInt64($0.offset), record: $0.element) })
            try engine.sync()
            for record in records { reference.apply(record) }
        }

        var engine = try restart(1)
        // The updates of the history (the engine writes its own start records).
        try append(engine, Array(Self.history[2..<(Self.history.count - 1)]))
        let lsn = engine.lastWritten
        let generation = try engine.beginSnapshot(lsn: lsn)
        let state = SnapshotState(
            lsn: lsn, store: reference.store, duplicates: reference.duplicates.entriesInOrder(), claim: nil)
        let bytes = try StorageEngine.writeSnapshot(
            state, start: engine.currentStart, generation: generation, to: fileSystem)
        try engine.installSnapshot(generation: generation, lsn: lsn, bytes: bytes)
        XCTAssertEqual(reference.store.revision, 8)

        engine = try restart(2)
        // The store came from the snapshot: after it, the log holds this start record only.
        let recovered = try Recovery.recover(from: fileSystem, duplicateCapacity: 10).recovered
        XCTAssertEqual(recovered?.manifest.snapshot?.lsn, lsn)
        XCTAssertEqual(recovered?.logRecordsReplayed, 1)
        try append(
            engine,
            [
                Self.update(Self.put("f", "6", revision: 9), revision: 9, client: 5, seq: 4),
                Self.update(.delete(b("f")), revision: 10, client: 5, seq: 5),
                Self.update(.deleteAll, revision: 11, client: 8, seq: 1),
            ])
        XCTAssertEqual(reference.store.count, 0)
        XCTAssertEqual(reference.store.revision, 11)
        _ = try restart(3)
    }
}
