import KVProtocol
import XCTest

@testable import ServerCore

/// Limits found by review: batches stay within a frame, and replies waiting for the
/// backup are bounded.
final class BoundsTests: XCTestCase {
    /// A primary of view 1 holding a few keys, view 2 adding backup "b" announced.
    private func primaryStartingTransfer(_ configure: @escaping (inout ServerConfig) -> Void) -> Harness {
        let h = Harness(["p", "b"], configure: configure)
        h.bootFirstPrimary("p")
        h.request("p", .put, "seed", "value", client: 1)
        h.view(2, "p", "b")
        return h
    }

    func testRequestsHeldDuringATransferLeaveInBatchesWithinTheLimits() {
        let h = primaryStartingTransfer {
            $0.maxBatchBytes = 10_000
            $0.maxBatchUpdates = 50
        }
        // 400 puts of 1 KB arrive while the transfer runs.
        let value = Bytes(repeating: 0x61, count: 1000)
        let tokens = (0..<400).map { h.request("p", .put, b("k\($0)"), value, client: 1000 + UInt64($0)) }
        XCTAssertEqual(h["p"].deferredRequests, 400)
        h.settle()
        for token in tokens { XCTAssertEqual(h.reply(token)?.status, .ok) }
        XCTAssertEqual(h["p"].store, h["b"].store)

        // Every forward the primary sent stayed within a batch's limits (one update may
        // take a batch past the byte budget, never past the update count).
        let sizes = h.sentBatches.map { batch in
            (batch.updates.count, batch.updates.reduce(0) { $0 + $1.encodedSize })
        }
        XCTAssertGreaterThan(sizes.count, 8, "the held requests were split into batches")
        for (count, bytes) in sizes {
            XCTAssertLessThanOrEqual(count, 50)
            XCTAssertLessThan(bytes, 10_000 + 1100)
        }
    }

    func testRepliesWaitingForAStalledBackupAreBounded() {
        let h = Harness(["p", "b"]) {
            $0.maxWaitingReplies = 10
            $0.maxDeferredRequests = 5
        }
        h.bootPair()
        // The backup stops answering: nothing is delivered from here on.
        let gets = (0..<30).map { h.request("p", .get, "k", client: 100 + UInt64($0)) }
        XCTAssertEqual(h["p"].pendingReplies, 10, "waiting replies stop at the limit")
        XCTAssertEqual(h["p"].deferredRequests, 5, "then requests are held, up to their own limit")
        let refused = gets.filter { h.reply($0) == .retryLater }
        XCTAssertEqual(refused.count, 15, "and the rest are told to retry later")

        // Once the backup answers again, everything held is served.
        h.settle()
        let served = gets.filter { h.reply($0)?.status == .noKey }
        XCTAssertEqual(served.count, 15)
        XCTAssertEqual(h["p"].pendingReplies, 0)
        XCTAssertEqual(h["p"].deferredRequests, 0)
    }
}

/// The counters and byte count `kvctl server-info` reports.
final class StatsTests: XCTestCase {
    func testStoreBytesAndCountersFollowTheWork() {
        let h = Harness(["p", "b"])
        h.bootPair()
        h.request("p", .put, "ab", "xyz", client: 1)
        h.settle()
        XCTAssertEqual(h["p"].storeBytes, 5)
        XCTAssertEqual(h["b"].storeBytes, 5, "the backup counts what it holds too")
        h.request("p", .put, "ab", "x", client: 1)
        h.request("p", .put, "c", "", client: 2)
        h.settle()
        XCTAssertEqual(h["p"].storeBytes, 4)
        h.request("p", .delete, "ab", client: 1)
        h.settle()
        XCTAssertEqual(h["p"].storeBytes, 1)
        XCTAssertEqual(h["b"].storeBytes, 1)

        let primary = h["p"].counters
        XCTAssertEqual(primary.requests, 4)
        XCTAssertEqual(primary.transfersStarted, 1)
        XCTAssertEqual(primary.transfersCompleted, 1)
        XCTAssertGreaterThanOrEqual(primary.batchesSent, 3)
        XCTAssertEqual(h["b"].counters.transfersReceived, 1)
        XCTAssertEqual(h["b"].counters.batchesApplied, primary.batchesSent)
    }
}
