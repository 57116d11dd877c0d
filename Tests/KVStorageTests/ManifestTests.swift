import KVStorage
import XCTest

final class ManifestTests: XCTestCase {
    private let manifest = Manifest(
        generation: 12, snapshot: Manifest.SnapshotReference(generation: 4, lsn: 900),
        logs: [
            Manifest.LogReference(generation: 5, firstLSN: 850), Manifest.LogReference(generation: 6, firstLSN: 1000),
        ])

    func testRoundTrip() throws {
        XCTAssertEqual(try Manifest.decode(manifest.encode()), manifest)
        let bare = Manifest(generation: 0, snapshot: nil, logs: [])
        XCTAssertEqual(try Manifest.decode(bare.encode()), bare)
    }

    func testIsOneRecordFramedAsLsnZero() {
        let bytes = manifest.encode()
        let payload: [UInt8] =
            [0x30, 0x00, 0x02] + bigEndian(12) + [1] + bigEndian(4) + bigEndian(900) + [0, 0, 0, 2] + bigEndian(5)
            + bigEndian(850) + bigEndian(6) + bigEndian(1000)
        XCTAssertEqual(bytes, framedRecord(payload: payload, lsn: 0, batchFirst: 0, batchLast: 0))
    }

    func testEveryFlippedByteIsDamage() {
        let bytes = manifest.encode()
        for index in bytes.indices {
            var damaged = bytes
            damaged[index] ^= 0x10
            XCTAssertThrowsError(try Manifest.decode(damaged), "byte \(index)")
        }
    }

    func testTruncationAndExtraBytesAreDamage() {
        let bytes = manifest.encode()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try Manifest.decode(Array(bytes[..<length])), "\(length) bytes")
        }
        XCTAssertThrowsError(try Manifest.decode(bytes + [0])) { error in
            XCTAssertEqual((error as? StorageFormatError)?.offset, bytes.count)
        }
        XCTAssertThrowsError(try Manifest.decode(bytes + bytes))
    }

    /// Version 1 (unreleased builds, before revisions and deadlines) and any later one are
    /// refused: a layout read as another would be silent corruption.
    func testOtherRecordTypesAndVersionsAreRefused() {
        for version: UInt8 in [0, 1, 3, 0xFF] {
            let other: [UInt8] = [0x30, 0x00, version] + bigEndian(1) + [0] + [0, 0, 0, 0]
            XCTAssertThrowsError(
                try Manifest.decode(framedRecord(payload: other, lsn: 0, batchFirst: 0, batchLast: 0))
            ) {
                XCTAssertTrue("\($0)".contains("unknown format version \(version)"), "\($0)")
            }
        }
        let logHeader = LogEncoder.encodeLogHeader(generation: 1, firstLSN: 1)
        XCTAssertThrowsError(try Manifest.decode(logHeader))
        let misframed: [UInt8] = [0x30, 0x00, 0x02] + bigEndian(1) + [0] + [0, 0, 0, 0]
        XCTAssertThrowsError(try Manifest.decode(framedRecord(payload: misframed, lsn: 1, batchFirst: 0, batchLast: 0)))
        XCTAssertNoThrow(try Manifest.decode(framedRecord(payload: misframed, lsn: 0, batchFirst: 0, batchLast: 0)))
    }

    func testDamageSaysWhere() {
        var bytes = manifest.encode()
        bytes[40] ^= 1
        XCTAssertThrowsError(try Manifest.decode(bytes)) { error in
            guard let error = error as? StorageFormatError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.offset, 0)
            XCTAssertTrue(error.reason.contains("checksum mismatch"), error.reason)
        }
    }
}
