import KVStorage
import XCTest

final class DataFileNameTests: XCTestCase {
    func testNamesAreSixteenLowercaseHexDigits() {
        XCTAssertEqual(DataFileName.snapshot(generation: 0x2a).fileName, "snapshot-000000000000002a.kvs")
        XCTAssertEqual(DataFileName.log(generation: 1).fileName, "log-0000000000000001.kvl")
        XCTAssertEqual(DataFileName.log(generation: .max).fileName, "log-ffffffffffffffff.kvl")
        XCTAssertEqual(DataFileName.manifest.fileName, "MANIFEST")
    }

    func testNamesParseBack() {
        for name in [
            DataFileName.manifest, .snapshot(generation: 0), .snapshot(generation: 0xdead_beef), .log(generation: 7),
        ] {
            XCTAssertEqual(DataFileName(name.fileName), name)
        }
    }

    func testOtherNamesAreNotOurs() {
        for name in [
            "MANIFEST.tmp", "manifest", "log-1.kvl", "log-000000000000000A.kvl", "log-000000000000000g.kvl",
            "log-0000000000000001.kvs", "snapshot-0000000000000001.kvl", "log-00000000000000001.kvl",
            "xlog-0000000000000001.kvl", "log-0000000000000001.kvl.tmp", "", "notes.txt",
        ] {
            XCTAssertNil(DataFileName(name), name)
        }
    }
}
