import KVProtocol
import KVStorage
import ServerCore
import XCTest

/// A data directory of format version 1 (unreleased builds: keys without revisions or
/// deadlines) is not read as version 2: recovery finds it damaged at its manifest, and
/// the server sets every file aside and starts empty, claiming nothing (docs/STORAGE.md,
/// "Format versions").
final class FormatVersionTests: XCTestCase {

    /// A manifest naming one log, the log's header and one update ("k" = "v" by client 7),
    /// all as version 1 wrote them.
    private var version1Files: [String: [UInt8]] {
        let manifest: [UInt8] = [0x30, 0x00, 0x01] + bigEndian(2) + [0] + [0, 0, 0, 1] + bigEndian(1) + bigEndian(1)
        let header: [UInt8] = [0x01, 0x00, 0x01] + bigEndian(1) + bigEndian(1)
        let update: [UInt8] =
            [0x10, 0x01, 0, 0, 0, 1, 0x6b, 0, 0, 0, 1, 0x76] + bigEndian(7) + bigEndian(1) + [0, 0, 0, 0, 0]
        return [
            "MANIFEST": framedRecord(payload: manifest, lsn: 0, batchFirst: 0, batchLast: 0),
            "log-0000000000000001.kvl": framedRecord(payload: header, lsn: 0, batchFirst: 0, batchLast: 0)
                + framedRecord(payload: update, lsn: 1, batchFirst: 1, batchLast: 1),
        ]
    }

    func testRecoveryFindsAVersion1DirectoryDamaged() throws {
        let outcome = try MemoryDirectory(files: version1Files).recover()
        let damage = try XCTUnwrap(outcome.damage, "\(outcome)")
        XCTAssertEqual(damage.file, "MANIFEST")
        XCTAssertTrue(damage.reason.contains("unknown format version 1"), damage.reason)
    }

    func testTheServerSetsItAsideAndStartsEmptyAtVersion2() throws {
        let fileSystem = MemoryFileSystem()
        fileSystem.files = version1Files
        let engine = StorageEngine(fileSystem: fileSystem, policy: .always)
        let opening = try engine.open(start: start(1), duplicateCapacity: 10, setAsideName: "damaged-1")
        XCTAssertNotNil(opening.damage)
        XCTAssertTrue(opening.recovered.store.isEmpty)
        XCTAssertEqual(opening.recovered.store.revision, 0)
        XCTAssertNil(opening.recovered.claim)
        for (name, bytes) in version1Files {
            XCTAssertEqual(fileSystem.files["damaged-1/\(name)"], bytes, "\(name) is kept as it was")
        }
        let state = try XCTUnwrap(try Recovery.recover(from: fileSystem, duplicateCapacity: 10).recovered)
        XCTAssertTrue(state.store.isEmpty)
        XCTAssertEqual(Array(try XCTUnwrap(fileSystem.files["MANIFEST"])[32..<35]), [0x30, 0x00, 0x02])
    }
}
