import Foundation
import KVProtocol
import KVStorage
import KVTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServerCore
import XCTest

@testable import KVServices

/// The daemon's log under `--fsync always`, on a real file system (rule D1, docs/DESIGN.md
/// §3.12): a record is reported persisted, which releases the replies and acknowledgements
/// that wait for it, only after the fdatasync that covers it has returned; and a failed
/// fdatasync ends the process instead of being retried. The simulator runs the cores over
/// a simulated disk, and a kill -9 keeps the page cache, so only this shows it of `DiskLog`.
final class DiskLogTests: XCTestCase {
    private struct Opened {
        let log: DiskLog
        let directory: POSIXDataDirectory
        let loop: any EventLoop
        /// Every LSN reported persisted, in order.
        let reported: NIOLockedValueBox<[UInt64]>
        /// The message `fail` was called with.
        let failure: NIOLockedValueBox<String?>
    }

    private func open(_ scratch: TestScratch) async throws -> Opened {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        addTeardownBlock { try? await group.shutdownGracefully() }
        let loop = group.next()
        let directory = try POSIXDataDirectory(path: scratch.path("data"))
        let engine = StorageEngine(fileSystem: directory, policy: .always)
        _ = try engine.open(
            start: ServerStart(incarnation: 1, bootID: POSIXDataDirectory.bootID(), policy: .always),
            duplicateCapacity: 100, setAsideName: "damaged")
        let reported = NIOLockedValueBox<[UInt64]>([])
        let failure = NIOLockedValueBox<String?>(nil)
        let log = DiskLog(
            engine: engine, loop: loop, metrics: nil,
            fail: { message in
                failure.withLockedValue { $0 = message }
                // The process would end here; the I/O thread parks instead, for good.
                while true { sleep(3600) }
            })
        try await loop.submit { log.start(persisted: { lsn in reported.withLockedValue { $0.append(lsn) } }) }.get()
        return Opened(log: log, directory: directory, loop: loop, reported: reported, failure: failure)
    }

    private static func update(_ key: String) -> ForwardedUpdate {
        ForwardedUpdate(
            change: .put(Array(key.utf8), StoredValue(value: Array("value".utf8), revision: 2)), revision: 2,
            clientID: 9, seq: 1, reply: ClientReply(status: .ok))
    }

    func testARecordIsReportedPersistedOnlyAfterItsFdatasyncReturned() async throws {
        let opened = try await open(try makeScratch())
        let gate = ConditionLock(value: 0)
        let syncsEntered = NIOLockedValueBox(0)
        opened.directory.interceptSyncsForTests {
            syncsEntered.withLockedValue { $0 += 1 }
            gate.lock(whenValue: 1)
            gate.unlock()
        }
        try await opened.loop.submit { opened.log.append(update: Self.update("k"), lsn: 2) }.get()

        try await waitUntil("the I/O thread syncs the record") { syncsEntered.withLockedValue { $0 } == 1 }
        // Anything the loop was asked to run before now has run.
        try await opened.loop.submit {}.get()
        XCTAssertFalse(
            opened.reported.withLockedValue { $0 }.contains { $0 >= 2 },
            "reported persisted while its fdatasync had not returned")

        gate.lock()
        gate.unlock(withValue: 1)
        try await waitUntil("the record is reported persisted") { opened.reported.withLockedValue { $0 }.contains(2) }
        XCTAssertEqual(opened.log.current.lastSynced, 2)
        opened.directory.interceptSyncsForTests(nil)
        await opened.log.close()
    }

    func testAFailedFdatasyncEndsTheProcessAndIsNeverRetried() async throws {
        let scratch = try makeScratch()
        let opened = try await open(scratch)
        // The first fdatasync (the record's) fails; the failure marker's own, after it, works.
        let attempts = NIOLockedValueBox(0)
        opened.directory.interceptSyncsForTests {
            let attempt = attempts.withLockedValue {
                $0 += 1
                return $0
            }
            if attempt == 1 { throw POSIXDataDirectory.IOError(description: "fdatasync failed: Input/output error") }
        }
        try await opened.loop.submit { opened.log.append(update: Self.update("k"), lsn: 2) }.get()

        try await waitUntil("the process is ended") { opened.failure.withLockedValue { $0 } != nil }
        let message = try XCTUnwrap(opened.failure.withLockedValue { $0 })
        XCTAssertTrue(message.contains("Input/output error"), message)
        XCTAssertTrue(message.contains("recorded in \(DataFileName.failureMarker)"), message)
        XCTAssertEqual(attempts.withLockedValue { $0 }, 2, "the record's sync, never retried, and the marker's")
        try await opened.loop.submit {}.get()
        XCTAssertFalse(opened.reported.withLockedValue { $0 }.contains { $0 >= 2 }, "nothing reported persisted")
        // The next start on this boot learns that this run's unsynced pages may be lost.
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.path("data/\(DataFileName.failureMarker)")))
    }
}
