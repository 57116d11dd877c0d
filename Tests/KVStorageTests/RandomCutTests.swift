import KVProtocol
import KVStorage
import XCTest

/// Random writes to a log, the file cut at a random byte as a crash would leave it:
/// recovery gives exactly the state after some prefix of the records, and that prefix
/// holds every write that was complete before the cut.
final class RandomCutTests: XCTestCase {
    private struct History {
        var fixture: DataDirectoryFixture
        var log: LogFileBuilder
    }

    private func randomHistory(_ rng: inout SplitMix64) -> History {
        var records: [LogRecord] = []
        var writeSizes: [Int] = []
        for _ in 0..<(1 + rng.below(25)) {
            let size = 1 + rng.below(6)
            writeSizes.append(size)
            for _ in 0..<size {
                let index = records.count
                let key = "k\(rng.below(12))"
                let client = UInt64(rng.below(8))
                switch rng.below(20) {
                case 0: records.append(.start(start(UInt64(index))))
                case 1: records.append(claimRecord(rng.below(2) == 0 ? .primary : .backup, UInt64(index)))
                case 2...4: records.append(deleteRecord(key, client: client, seq: UInt64(index)))
                default:
                    // Values up to a few sectors long, so cuts fall in every part of a record.
                    let value = String(repeating: "abcdefgh".randomElement(using: &rng)!, count: rng.below(1500))
                    records.append(setRecord(key, value, client: client, seq: UInt64(index)))
                }
            }
        }
        var fixture = DataDirectoryFixture(records: records)
        var log = LogFileBuilder(generation: 1, firstLSN: 1)
        var lsn = 0
        for size in writeSizes {
            log.write(Array(records[lsn..<lsn + size]))
            lsn += size
        }
        fixture.directory.files[log.fileName] = log.bytes
        fixture.manifest.logs = [Manifest.LogReference(generation: 1, firstLSN: 1)]
        fixture.directory.files["MANIFEST"] = fixture.manifest.encode()
        return History(fixture: fixture, log: log)
    }

    /// Recovery of `bytes` as the log gives a prefix of the records holding every write
    /// that ends at or before `completeUpTo`.
    private func assertRecoversAPrefix(
        _ history: History, _ bytes: [UInt8], completeUpTo: Int, _ context: String
    ) {
        var fixture = history.fixture
        fixture.directory.files[history.log.fileName] = bytes
        let outcome: RecoveryOutcome
        do { outcome = try fixture.recover() } catch { return XCTFail("\(context): \(error)") }
        guard let state = outcome.recovered else { return XCTFail("\(context): \(outcome)") }
        let complete = history.log.writes.last { $0.end <= completeUpTo }?.lastLSN ?? 0
        XCTAssertGreaterThanOrEqual(state.lastLSN, complete, context)
        XCTAssertLessThanOrEqual(state.lastLSN, UInt64(fixture.records.count), context)
        let expected = fixture.applied(through: state.lastLSN)
        XCTAssertEqual(state.store, expected.store, context)
        XCTAssertEqual(state.store.bytes, expected.store.bytes, context)
        XCTAssertEqual(state.duplicates.entriesInOrder(), expected.duplicates.entriesInOrder(), context)
        XCTAssertEqual(state.claim, fixture.claim(through: state.lastLSN), context)
        XCTAssertEqual(state.lastStart, fixture.start(through: state.lastLSN), context)
        // The writer goes on where the valid prefix ends; a tear is cut there, after a copy
        // is kept, and zeros only (which look like prepared space) without one.
        let end = state.lastLogEnd?.offset ?? -1
        XCTAssertNil(state.tornTail != nil && state.preparedSpace != nil ? "both" : nil, context)
        let cut = state.tornTail ?? state.preparedSpace
        XCTAssertEqual(cut.map(\.offset) ?? bytes.count, end, context)
        if end < bytes.count {
            XCTAssertEqual(cut?.file, history.log.fileName, context)
            let onlyZeros = bytes[end...].allSatisfy { $0 == 0 }
            XCTAssertEqual(state.preparedSpace != nil, onlyZeros, context)
        }
    }

    func testCutAtARandomByte() {
        for seed in 0..<300 as Range<UInt64> {
            var rng = SplitMix64(seed: seed)
            let history = randomHistory(&rng)
            let bytes = history.log.bytes
            let cut = history.log.headerEnd + rng.below(bytes.count - history.log.headerEnd + 1)
            assertRecoversAPrefix(history, Array(bytes[..<cut]), completeUpTo: cut, "seed \(seed), cut at \(cut)")
            // A crash on a file whose size had been extended: the sectors from the one the
            // cut falls in on never reached the disk and read as zeros.
            let unwritten = max(history.log.headerEnd, cut / 512 * 512)
            var zeroed = bytes
            for index in unwritten..<zeroed.count { zeroed[index] = 0 }
            assertRecoversAPrefix(history, zeroed, completeUpTo: unwritten, "seed \(seed), zeros from \(unwritten)")
        }
    }

    /// The last write reached the disk except for one sector: the records after the hole
    /// survive, and recovery still takes it for a tear.
    func testLastWriteMissingASector() {
        var tested = 0
        for seed in 1000..<1300 as Range<UInt64> {
            var rng = SplitMix64(seed: seed)
            let history = randomHistory(&rng)
            let write = history.log.writes[rng.below(history.log.writes.count)]
            let firstSector = (write.start + 511) / 512
            let sectors = (write.end / 512) - firstSector
            guard sectors > 0 else { continue }
            var bytes = Array(history.log.bytes[..<write.end])
            let sector = (firstSector + rng.below(sectors)) * 512
            for index in sector..<sector + 512 { bytes[index] = 0 }
            // Half the time the file goes on in zeros prepared ahead of the write (under
            // `always`): still a tear, kept and cut, not zeros only.
            let prepared = rng.below(2) == 0 ? rng.below(4096) + 1 : 0
            bytes += [UInt8](repeating: 0, count: prepared)
            assertRecoversAPrefix(
                history, bytes, completeUpTo: write.start, "seed \(seed), sector at \(sector), \(prepared) zeros after")
            tested += 1
        }
        XCTAssertGreaterThan(tested, 100)
    }
}
