import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// Recovery is on the way of every start: a million keys from a snapshot plus a log of
/// updates must load in well under 2 s (timed in release builds; a debug build checks the
/// same on fewer keys, untimed).
final class RecoveryScaleTests: XCTestCase {
    func testSnapshotOfManyKeysPlusALog() throws {
        #if DEBUG
            let keys = 50_000
        #else
            let keys = 1_000_000
        #endif
        let updates = keys / 10
        var store: [Bytes: Bytes] = [:]
        store.reserveCapacity(keys)
        for index in 0..<keys {
            store[Bytes(utf8: "key-\(index)")] = Bytes(repeating: UInt8(truncatingIfNeeded: index), count: 100)
        }
        let duplicates = (0..<1000).map {
            DuplicateEntry(clientID: UInt64($0), seq: 1, reply: ClientReply(status: .ok))
        }
        let snapshot = SnapshotEncoder.encode(
            store: KeyValueStore(values: store), duplicates: duplicates, generation: 1, lsn: 1000, claim: nil,
            start: nil)
        var log = LogEncoder.encodeLogHeader(generation: 2, firstLSN: 1001)
        var lsn: UInt64 = 1001
        var batch: [LogEntry] = []
        for index in 0..<updates {
            let key = Bytes(utf8: "key-\(index * 7 % keys)")
            let value = Bytes(repeating: 0xEE, count: 100)
            store[key] = value
            batch.append(
                LogEntry(
                    lsn: lsn,
                    record: .record(
                        .update(
                            ForwardedUpdate(
                                change: .put(key, StoredValue(value: value, revision: 0)), revision: 0,
                                clientID: UInt64(index % 5000),
                                seq: UInt64(index),
                                reply: ClientReply(status: .ok))))))
            lsn += 1
            if batch.count == 64 {
                LogEncoder.encodeBatch(batch, into: &log)
                batch.removeAll(keepingCapacity: true)
            }
        }
        LogEncoder.encodeBatch(batch, into: &log)
        let manifest = Manifest(
            generation: 3, snapshot: Manifest.SnapshotReference(generation: 1, lsn: 1000),
            logs: [Manifest.LogReference(generation: 2, firstLSN: 1001)])
        let directory = MemoryDirectory(files: [
            "MANIFEST": manifest.encode(), "snapshot-0000000000000001.kvs": snapshot, "log-0000000000000002.kvl": log,
        ])

        let clock = ContinuousClock()
        var outcome: RecoveryOutcome?
        let elapsed = try clock.measure { outcome = try directory.recover(duplicateCapacity: 100_000) }
        print(
            "recovered \(keys) keys and \(updates) log records (\((snapshot.count + log.count) >> 20) MiB) in \(elapsed)"
        )

        let state = try XCTUnwrap(outcome?.recovered)
        XCTAssertEqual(state.store.count, keys)
        XCTAssertTrue(state.store.values == store)
        XCTAssertEqual(state.lastLSN, 1000 + UInt64(updates))
        XCTAssertEqual(state.logRecordsReplayed, updates)
        #if !DEBUG
            XCTAssertLessThan(elapsed, .seconds(1.5))
        #endif
    }
}
