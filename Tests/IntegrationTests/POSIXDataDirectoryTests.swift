import Foundation
import KVStorage
import KVTestSupport
import XCTest

@testable import KVServices

/// The daemon's file system calls for the data directory (`POSIXDataDirectory`): a write
/// that writes nothing is an error rather than a loop, and the directory a server creates
/// is made durable in its parent before anything is written in it.
final class POSIXDataDirectoryTests: XCTestCase {
    /// write(2) returning 0 for a count above zero cannot go on: retrying it spun for ever.
    /// It is an error, which ends the process as any failed write does.
    func testAWriteThatWritesNothingIsAnError() {
        var calls = 0
        XCTAssertThrowsError(
            try [UInt8]([1, 2, 3]).withUnsafeBytes { bytes in
                try POSIXDataDirectory.writeAll(bytes, in: "/data") { _, _ in
                    calls += 1
                    // Without the check the loop comes back; give up after a while.
                    if calls > 100 {
                        errno = EIO
                        return -1
                    }
                    return 0
                }
            }
        ) { error in
            XCTAssertTrue("\(error)".contains("wrote nothing"), "\(error)")
        }
        XCTAssertEqual(calls, 1)
    }

    /// Short writes are continued where they stopped, and EINTR retried.
    func testShortWritesAreContinued() throws {
        var received: [UInt8] = []
        var interrupted = false
        try [UInt8]([1, 2, 3, 4, 5]).withUnsafeBytes { bytes in
            try POSIXDataDirectory.writeAll(bytes, in: "/data") { pointer, count in
                if !interrupted {
                    interrupted = true
                    errno = EINTR
                    return -1
                }
                received.append(pointer.load(as: UInt8.self))
                return 1
            }
        }
        XCTAssertEqual(received, [1, 2, 3, 4, 5])
    }

    /// mkdir(2) makes a directory entry in the parent, durable only once the parent is
    /// fsynced: else a crash could lose the data directory with every synced record in it.
    func testCreatingTheDataDirectorySyncsItsParent() throws {
        let scratch = try makeScratch()
        var synced: [String] = []
        let path = scratch.path("data")
        _ = try POSIXDataDirectory(path: path) { synced.append($0) }
        XCTAssertEqual(synced, [scratch.directory])
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        // The real sync, on a directory that exists, works.
        _ = try POSIXDataDirectory(path: scratch.path("data2"))
    }

    func testTheParentOfAPath() {
        XCTAssertEqual(POSIXDataDirectory.parent(of: "/var/lib/kv/data"), "/var/lib/kv")
        XCTAssertEqual(POSIXDataDirectory.parent(of: "/var/lib/kv/data/"), "/var/lib/kv")
        XCTAssertEqual(POSIXDataDirectory.parent(of: "/data"), "/")
        XCTAssertEqual(POSIXDataDirectory.parent(of: "data"), ".")
        XCTAssertEqual(POSIXDataDirectory.parent(of: "kv/data"), "kv")
    }

    /// Setting damaged files aside syncs the subdirectory they moved into.
    func testASubdirectoryCanBeSynced() throws {
        let directory = try POSIXDataDirectory(path: try makeScratch().path("data"))
        try directory.makeSubdirectory("damaged-1")
        try directory.syncSubdirectory("damaged-1")
        XCTAssertThrowsError(try directory.syncSubdirectory("missing"))
    }
}
