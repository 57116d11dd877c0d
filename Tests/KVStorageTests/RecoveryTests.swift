import KVProtocol
import KVStorage
import ServerCore
import XCTest

final class RecoveryTests: XCTestCase {
    private func assertRecovered(
        _ outcome: RecoveryOutcome, _ fixture: DataDirectoryFixture, through lsn: UInt64, duplicateCapacity: Int = 1000,
        file: StaticString = #filePath, line: UInt = #line
    ) -> RecoveredState? {
        guard let state = outcome.recovered else {
            XCTFail("expected a recovered state, got \(outcome)", file: file, line: line)
            return nil
        }
        let expected = fixture.applied(through: lsn, duplicateCapacity: duplicateCapacity)
        XCTAssertEqual(state.lastLSN, lsn, file: file, line: line)
        XCTAssertEqual(state.store, expected.store, file: file, line: line)
        XCTAssertEqual(state.store.bytes, expected.store.bytes, file: file, line: line)
        XCTAssertEqual(
            state.duplicates.entriesInOrder(), expected.duplicates.entriesInOrder(), file: file, line: line)
        XCTAssertEqual(state.duplicates.capacity, duplicateCapacity, file: file, line: line)
        XCTAssertEqual(state.claim, fixture.claim(through: lsn), file: file, line: line)
        XCTAssertEqual(state.lastStart, fixture.start(through: lsn), file: file, line: line)
        XCTAssertEqual(state.manifest, fixture.manifest, file: file, line: line)
        return state
    }

    private func assertDamaged(
        _ outcome: RecoveryOutcome, file expectedFile: String, offset: Int? = nil, saying fragment: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let damage = outcome.damage else {
            return XCTFail("expected damage, got \(outcome)", file: file, line: line)
        }
        XCTAssertEqual(damage.file, expectedFile, "\(damage)", file: file, line: line)
        if let offset { XCTAssertEqual(damage.offset, offset, "\(damage)", file: file, line: line) }
        XCTAssertTrue(damage.reason.contains(fragment), "\(damage)", file: file, line: line)
        XCTAssertTrue(damage.description.contains(expectedFile), damage.description, file: file, line: line)
    }

    // MARK: - Fresh

    func testEmptyDirectoryIsFresh() throws {
        XCTAssertTrue(try MemoryDirectory().recover().isFresh)
    }

    func testTemporaryManifestAndOtherFilesAreFresh() throws {
        let directory = MemoryDirectory(files: [
            "MANIFEST.tmp": Manifest(generation: 1, snapshot: nil, logs: []).encode(), "notes.txt": b("hello"),
            "log-1.kvl": [1, 2, 3], "snapshot-000000000000000A.kvs": [],
        ])
        XCTAssertTrue(try directory.recover().isFresh)
    }

    /// Snapshot or log files without a manifest may hold acknowledged writes: never start over.
    func testSnapshotOrLogWithoutManifestIsDamage() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addLog(1...12)
        fixture.directory.files["MANIFEST"] = nil
        assertDamaged(try fixture.recover(), file: "log-0000000000000001.kvl", saying: "there is no MANIFEST")
        let snapshotOnly = MemoryDirectory(files: ["snapshot-0000000000000003.kvs": [], "MANIFEST.tmp": []])
        assertDamaged(try snapshotOnly.recover(), file: "snapshot-0000000000000003.kvs", saying: "there is no MANIFEST")
    }

    /// A crash during a first start, after the first log was created (and its header
    /// written, or not yet) but before the first manifest was renamed into place, leaves a
    /// log that holds no record: the directory is new, not damaged.
    func testFirstLogWithoutManifestHoldingNoRecordIsFresh() throws {
        let header = LogEncoder.encodeLogHeader(generation: 1, firstLSN: 1)
        for bytes in [header, Array(header.prefix(20)), []] {
            let directory = MemoryDirectory(files: [
                "log-0000000000000001.kvl": bytes,
                "MANIFEST.tmp": Manifest(generation: 1, snapshot: nil, logs: []).encode(),
            ])
            XCTAssertTrue(try directory.recover().isFresh, "a log of \(bytes.count) bytes")
        }
        // One record more, and it may hold an acknowledged write.
        var log = LogFileBuilder(generation: 1, firstLSN: 1)
        log.write([sampleHistory[0]])
        assertDamaged(
            try MemoryDirectory(files: [log.fileName: log.bytes]).recover(), file: log.fileName,
            saying: "there is no MANIFEST")
    }

    // MARK: - Recovered

    func testManifestNamingNothingIsAnEmptyState() throws {
        let manifest = Manifest(generation: 1, snapshot: nil, logs: [])
        let state = try MemoryDirectory(files: ["MANIFEST": manifest.encode()]).recover().recovered
        XCTAssertEqual(state?.store, [:])
        XCTAssertEqual(state?.lastLSN, 0)
        XCTAssertNil(state?.lastLogEnd)
    }

    func testSnapshotOnly() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addSnapshot(at: 12)
        let state = assertRecovered(try fixture.recover(), fixture, through: 12)
        XCTAssertEqual(state?.snapshotKeys, 4)
        XCTAssertEqual(state?.logRecordsReplayed, 0)
        XCTAssertNil(state?.lastLogEnd)
        XCTAssertNil(state?.tornTail)
    }

    func testLogOnly() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        let log = fixture.addLog(1...12, writeSize: 3)
        let state = assertRecovered(try fixture.recover(), fixture, through: 12)
        XCTAssertEqual(state?.logRecordsReplayed, 12)
        XCTAssertEqual(state?.snapshotKeys, 0)
        XCTAssertEqual(state?.lastLogEnd, LogFilePosition(file: log.fileName, offset: log.bytes.count))
        XCTAssertNil(state?.tornTail)
        XCTAssertEqual(state?.bytesRead, log.bytes.count + fixture.manifest.encode().count)
    }

    /// The snapshot holds lsn 1...6; the first log begins before it, at 3; the second goes on
    /// from 10. Records up to 6 are taken from the snapshot only, once: the duplicate table's
    /// order would show an update applied twice.
    func testSnapshotAndTwoLogsWithOverlap() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addLog(3...9)
        fixture.addSnapshot(at: 6)
        let last = fixture.addLog(10...12)
        let state = assertRecovered(try fixture.recover(), fixture, through: 12)
        XCTAssertEqual(state?.snapshotKeys, 3)
        XCTAssertEqual(state?.logRecordsReplayed, 6)
        XCTAssertEqual(state?.lastLogEnd, LogFilePosition(file: last.fileName, offset: last.bytes.count))
        XCTAssertEqual(state?.claim?.viewnum, 9)
        XCTAssertEqual(state?.lastStart?.incarnation, 2)
    }

    /// With no claim or start after the snapshot, they are the snapshot's (the log that
    /// held them may be gone); the ones in the overlap do not count twice.
    func testClaimAndStartFromTheSnapshotWhenNoLaterOnes() throws {
        let history = Array(sampleHistory.prefix(8))
        var fixture = DataDirectoryFixture(records: history)
        fixture.addSnapshot(at: 5)
        fixture.addLog(6...8)
        let state = assertRecovered(try fixture.recover(), fixture, through: 8)
        XCTAssertEqual(state?.claim, StateClaim(role: .backup, viewnum: 4, primary: "p:1", backup: "b:2"))
        XCTAssertEqual(state?.lastStart, start(1))
    }

    func testClaimAndStartFromTheLogWhenLater() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addSnapshot(at: 3)
        fixture.addLog(4...12)
        let state = assertRecovered(try fixture.recover(), fixture, through: 12)
        XCTAssertEqual(state?.claim?.role, .primary)
        XCTAssertEqual(state?.lastStart, start(2, policy: .everysec))
    }

    /// Many clients through a small table: the rebuilt table forgets the same clients, in
    /// the same order, as one built by applying the updates.
    func testDuplicateTableEqualsOneBuiltByApplyingTheUpdates() throws {
        var rng = SplitMix64(seed: 3)
        let history: [LogRecord] = (0..<400).map { index in
            setRecord("k\(rng.below(30))", "v\(index)", client: UInt64(rng.below(60)), seq: UInt64(index))
        }
        var fixture = DataDirectoryFixture(records: history)
        fixture.addLog(1...150, writeSize: 7)
        fixture.addSnapshot(at: 200)
        fixture.addLog(151...400, writeSize: 5)
        let state = assertRecovered(
            try fixture.recover(duplicateCapacity: 25), fixture, through: 400, duplicateCapacity: 25)
        XCTAssertEqual(state?.duplicates.count, 25)
    }

    func testEmptyLastLogAfterASnapshot() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addSnapshot(at: 12)
        fixture.addEmptyLog(firstLSN: 13)
        let state = assertRecovered(try fixture.recover(), fixture, through: 12)
        XCTAssertEqual(state?.lastLogEnd?.file, "log-0000000000000002.kvl")
    }

    func testTornTailInTheLastLogIsCutOff() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addLog(1...6)
        let log = fixture.addLog(7...12, writeSize: 3)
        let cut = log.writes[1].recordStarts[1] + 10
        fixture.directory.files[log.fileName] = Array(log.bytes[..<cut])
        let state = assertRecovered(try fixture.recover(), fixture, through: 10)
        let position = LogFilePosition(file: log.fileName, offset: log.writes[1].recordStarts[1])
        XCTAssertEqual(state?.tornTail, position)
        XCTAssertEqual(state?.lastLogEnd, position)
    }

    func testUnreferencedFilesAreReported() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addLog(1...12)
        fixture.directory.files["snapshot-0000000000000009.kvs"] = [1, 2, 3]
        fixture.directory.files["log-0000000000000000.kvl"] = []
        fixture.directory.files["MANIFEST.tmp"] = []
        let state = assertRecovered(try fixture.recover(), fixture, through: 12)
        XCTAssertEqual(state?.unreferencedFiles, ["log-0000000000000000.kvl", "snapshot-0000000000000009.kvs"])
    }

    // MARK: - Damage

    func testDamagedManifest() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addLog(1...12)
        fixture.directory.files["MANIFEST"]![40] ^= 1
        assertDamaged(try fixture.recover(), file: "MANIFEST", offset: 0, saying: "checksum mismatch")
        fixture.directory.files["MANIFEST"] = []
        assertDamaged(try fixture.recover(), file: "MANIFEST", offset: 0, saying: "truncated")
    }

    func testMissingNamedFileIsDamage() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addSnapshot(at: 4)
        fixture.addLog(5...12)
        var withoutLog = fixture
        withoutLog.directory.files["log-0000000000000002.kvl"] = nil
        assertDamaged(try withoutLog.recover(), file: "log-0000000000000002.kvl", saying: "missing")
        fixture.directory.files["snapshot-0000000000000001.kvs"] = nil
        assertDamaged(try fixture.recover(), file: "snapshot-0000000000000001.kvs", saying: "missing")
    }

    func testDamagedSnapshot() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addSnapshot(at: 12)
        let name = "snapshot-0000000000000001.kvs"
        let bytes = fixture.directory.files[name]!
        let entries = recordOffsets(bytes)[1]
        fixture.directory.files[name]![entries + 50] ^= 0x80
        assertDamaged(try fixture.recover(), file: name, offset: entries, saying: "checksum mismatch")
    }

    func testSnapshotOtherThanTheManifestNamesIsDamage() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addSnapshot(at: 12)
        fixture.manifest.snapshot = Manifest.SnapshotReference(generation: 1, lsn: 11)
        fixture.directory.files["MANIFEST"] = fixture.manifest.encode()
        assertDamaged(try fixture.recover(), file: "snapshot-0000000000000001.kvs", saying: "at lsn 12")
    }

    func testDamageInALogIsDamage() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        let first = fixture.addLog(1...6)
        fixture.addLog(7...12)
        let record = first.writes[1].recordStarts[0]
        fixture.directory.files[first.fileName]![record + 36] ^= 1
        assertDamaged(try fixture.recover(), file: first.fileName, offset: record, saying: "checksum mismatch")
    }

    /// Under `everysec` or `no` writes follow each other without a sync, so after a reboot
    /// damage in the last log's tail is the unsynced tail lost, which the policy allows:
    /// cut, not damage. Not without a reboot (a process crash keeps every write), and not
    /// in what a process under `always` wrote.
    func testDamageInTheUnsyncedTailOfAnEverysecLogIsCutAfterAReboot() throws {
        // Lsn 12's page never reached the disk (it reads as zeros); lsn 13's did.
        var fixture = DataDirectoryFixture(records: sampleHistory + [setRecord("e", "5", client: 6)])
        let log = fixture.addLog(1...13, writeSize: 1)
        let lost = log.writes[11].recordStarts[0]
        for index in lost..<lost + 8 { fixture.directory.files[log.fileName]![index] = 0 }
        let writer = start(2, policy: .everysec).bootID
        let rebooted = [UInt8](repeating: 0xEE, count: 16)

        assertDamaged(try fixture.recover(bootID: writer), file: log.fileName, offset: lost, saying: "later write")
        let state = assertRecovered(try fixture.recover(bootID: rebooted), fixture, through: 11)
        XCTAssertEqual(state?.tornTail, LogFilePosition(file: log.fileName, offset: lost))
        XCTAssertNotNil(state?.lostUnsyncedTail)

        // Damage in what the first process (under `always`) wrote stays damage.
        var early = DataDirectoryFixture(records: sampleHistory)
        let earlyLog = early.addLog(1...12, writeSize: 1)
        early.directory.files[earlyLog.fileName]![earlyLog.writes[4].recordStarts[0] + 36] ^= 1
        assertDamaged(
            try early.recover(bootID: rebooted), file: earlyLog.fileName, offset: earlyLog.writes[4].recordStarts[0],
            saying: "checksum mismatch")
    }

    /// A flipped bit in the everysec run's tail is written bytes that fail their checksum:
    /// the write reached the disk, and a sync may have covered it and what follows, so it
    /// is damage even after a reboot, not a lost tail to cut.
    func testAFlippedBitInAnEverysecTailIsDamageAfterARebootToo() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        let log = fixture.addLog(1...12, writeSize: 1)
        let lastRecord = log.writes[11].recordStarts[0]
        fixture.directory.files[log.fileName]![lastRecord + 36] ^= 1
        let rebooted = [UInt8](repeating: 0xEE, count: 16)
        assertDamaged(
            try fixture.recover(bootID: rebooted), file: log.fileName, offset: lastRecord, saying: "checksum mismatch")
    }

    /// An everysec run's unsynced region, then a later run on the same boot (under
    /// `always`), then a reboot, and a page of the earlier region reads as zeros. The later
    /// run synced the log before its start record and that record before anything else, so
    /// the earlier region had been synced: its damage is corruption, and the later run's
    /// synced, acknowledged writes after it must not be cut off as a lost tail.
    func testDamageBeforeALaterRunsStartIsNotCutAsALostTail() throws {
        let later = ServerStart(incarnation: 3, bootID: start(2, policy: .everysec).bootID, policy: .always)
        var fixture = DataDirectoryFixture(
            records: sampleHistory + [.start(later), setRecord("e", "5", client: 6)])
        let log = fixture.addLog(1...14, writeSize: 1)
        let damaged = log.writes[11].recordStarts[0]
        for index in damaged..<damaged + 8 { fixture.directory.files[log.fileName]![index] = 0 }
        let rebooted = [UInt8](repeating: 0xEE, count: 16)
        assertDamaged(try fixture.recover(bootID: rebooted), file: log.fileName, offset: damaged, saying: "later write")
    }

    /// A later log began only after the earlier one's writes were synced: a cut-short
    /// write at the end of an earlier log is damage.
    func testTornTailInAnEarlierLogIsDamage() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        let first = fixture.addLog(1...6)
        fixture.addLog(7...12)
        let cut = first.writes[2].recordStarts[1]
        fixture.directory.files[first.fileName] = Array(first.bytes[..<(cut + 5)])
        fixture.manifest.logs[1].firstLSN = 6
        fixture.directory.files["MANIFEST"] = fixture.manifest.encode()
        assertDamaged(try fixture.recover(), file: first.fileName, offset: cut, saying: "a later log follows")
    }

    func testGapBetweenLogsIsDamage() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addLog(1...5)
        let second = fixture.addLog(7...12)
        assertDamaged(try fixture.recover(), file: second.fileName, offset: 0, saying: "ends at lsn 5")
    }

    func testFirstLogBeginningAfterTheSnapshotIsDamage() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addSnapshot(at: 4)
        let log = fixture.addLog(6...12)
        assertDamaged(try fixture.recover(), file: log.fileName, offset: 0, saying: "the snapshot ends at lsn 4")
        var withoutSnapshot = DataDirectoryFixture(records: sampleHistory)
        let late = withoutSnapshot.addLog(2...12)
        assertDamaged(
            try withoutSnapshot.recover(), file: late.fileName, offset: 0, saying: "the snapshot ends at lsn 0")
    }

    func testLastLogEndingBeforeTheSnapshotIsDamage() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        let log = fixture.addLog(1...8)
        fixture.addSnapshot(at: 10)
        assertDamaged(try fixture.recover(), file: log.fileName, offset: log.bytes.count, saying: "before the snapshot")
    }

    func testLogNamedTwiceIsDamage() throws {
        var fixture = DataDirectoryFixture(records: sampleHistory)
        fixture.addSnapshot(at: 12)
        fixture.addEmptyLog(firstLSN: 13)
        fixture.manifest.logs.append(fixture.manifest.logs[0])
        fixture.directory.files["MANIFEST"] = fixture.manifest.encode()
        assertDamaged(try fixture.recover(), file: "MANIFEST", saying: "named twice")
    }

    /// Lsns read from files are never added to in a way that could trap.
    func testLargestLsnsAreNoTrap() throws {
        let manifest = Manifest(
            generation: 1, snapshot: Manifest.SnapshotReference(generation: 1, lsn: .max - 1),
            logs: [Manifest.LogReference(generation: 2, firstLSN: .max)])
        var log = LogEncoder.encodeLogHeader(generation: 2, firstLSN: .max)
        LogEncoder.encodeBatch([LogEntry(lsn: .max, record: setRecord("k", "v"))], into: &log)
        var directory = MemoryDirectory(files: [
            "MANIFEST": manifest.encode(), "log-0000000000000002.kvl": log,
            "snapshot-0000000000000001.kvs": SnapshotEncoder.encode(
                store: [:], duplicates: [], generation: 1, lsn: .max - 1, claim: nil, start: nil),
        ])
        XCTAssertEqual(try directory.recover().recovered?.lastLSN, .max)
        let valid = log.count
        let lsnZero = framedRecord(payload: [0x10], lsn: 0, batchFirst: 0, batchLast: 0)
        directory.files["log-0000000000000002.kvl"] = log + lsnZero
        assertDamaged(try directory.recover(), file: "log-0000000000000002.kvl", offset: valid, saying: "a repeat")
        // A hole after lsn .max, then a record.
        directory.files["log-0000000000000002.kvl"] = log + [UInt8](repeating: 0, count: 512) + lsnZero
        assertDamaged(try directory.recover(), file: "log-0000000000000002.kvl", offset: valid, saying: "later write")
        directory.files["log-0000000000000002.kvl"] = log
        var late = manifest
        late.logs.append(Manifest.LogReference(generation: 3, firstLSN: 0))
        directory.files["MANIFEST"] = late.encode()
        assertDamaged(try directory.recover(), file: "MANIFEST", saying: "begins at lsn 0")
    }

    func testReaderErrorsAreThrownNotTakenForDamage() {
        struct Unreadable: DataDirectoryReader, Error {
            func fileNames() throws -> [String] { ["MANIFEST"] }
            func contents(of name: String) throws -> [UInt8]? { throw self }
        }
        XCTAssertThrowsError(try Recovery.recover(from: Unreadable(), duplicateCapacity: 10)) {
            XCTAssertTrue($0 is Unreadable)
        }
    }
}
