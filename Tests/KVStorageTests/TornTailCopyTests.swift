import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// A torn last record is cut off only after the whole file is kept under another name,
/// and that name made durable (docs/STORAGE.md, "Recovery"): if the judgement that the
/// tail was torn were ever wrong, the bytes are still there to read.
final class TornTailCopyTests: XCTestCase {
    private let logName = DataFileName.log(generation: 1).fileName

    private func start(_ incarnation: UInt64) -> ServerStart {
        ServerStart(incarnation: incarnation, bootID: [UInt8](repeating: 1, count: 16), policy: .always)
    }

    func testTheTornFileIsCopiedAndTheCopyMadeDurableBeforeTheCut() throws {
        let fileSystem = MemoryFileSystem()
        let first = StorageEngine(fileSystem: fileSystem, policy: .always, preparedSpace: 0)
        _ = try first.open(start: start(1), duplicateCapacity: 10, setAsideName: "damaged")
        for lsn in UInt64(2)...11 {
            let record = setRecord("k\(lsn)", String(repeating: "v", count: 100), client: 7, seq: lsn, revision: lsn)
            try first.append([LogEntry(lsn: lsn, record: record)])
            try first.sync()
        }
        // The last write cut short: its record's second half never reached the disk.
        let whole = try XCTUnwrap(fileSystem.files[logName])
        let torn = Array(whole.dropLast(40))
        fileSystem.files[logName] = torn
        fileSystem.operations.removeAll()

        let second = StorageEngine(fileSystem: fileSystem, policy: .always, preparedSpace: 0)
        let opening = try second.open(start: start(2), duplicateCapacity: 10, setAsideName: "damaged")

        XCTAssertNil(opening.damage)
        XCTAssertNotNil(opening.tornTail, opening.report)
        XCTAssertEqual(opening.recovered.store.count, 9, "the torn update is gone, the nine before it stay")
        XCTAssertEqual(
            opening.recovered.lastLSN, 11,
            "the nine, two start records and the torn update's lsn taken by the new start")
        let copyName = "\(logName).torn-10"
        XCTAssertEqual(fileSystem.files[copyName], torn, "the copy holds the file as recovery found it")
        XCTAssertTrue(opening.report.contains(copyName), opening.report)
        XCTAssertLessThan(try XCTUnwrap(fileSystem.files[logName]).count, torn.count, "the original is cut")

        let operations = fileSystem.operations
        let copied = try XCTUnwrap(operations.firstIndex(of: "create \(copyName)"), "\(operations)")
        let cut = try XCTUnwrap(operations.firstIndex(of: "truncate \(logName)"), "\(operations)")
        XCTAssertLessThan(copied, cut, "\(operations)")
        XCTAssertTrue(
            operations[copied..<cut].contains("sync \(copyName)"), "the copy's bytes are durable first: \(operations)")
        XCTAssertTrue(
            operations[copied..<cut].contains("syncDirectory"), "the copy's name is durable first: \(operations)")
        XCTAssertEqual(fileSystem.synced[copyName], torn.count, "the copy's bytes are synced")
    }
}
