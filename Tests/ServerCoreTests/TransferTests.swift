import XCTest

@testable import KVProtocol
@testable import ServerCore

/// The whole state, in chunks, to every new backup; the view is acknowledged only after.
final class TransferTests: XCTestCase {
    /// p serves view 1 alone with `keys` keys and as many duplicate-table entries.
    private func loadedPrimary(
        keys: Int = 300, _ configure: @escaping (inout ServerConfig) -> Void = { $0.transferChunkBytes = 100 }
    ) -> Harness {
        let h = Harness(["p", "b", "c"], configure: configure)
        h.bootFirstPrimary("p")
        var rng = SplitMix64(seed: 11)
        for i in 0..<keys {
            let value = (0..<rng.below(30)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            h.request("p", .put, b("key-\(i)"), value, client: UInt64(i % 97 + 1), seq: UInt64(i + 1))
        }
        h.request("p", .putHash, "hashed", "x", client: 500, seq: 1)
        XCTAssertEqual(h["p"].store.count, keys + 1)
        return h
    }

    private func assertSameState(
        _ h: Harness, _ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(h[a].store, h[b].store, "stores of \(a) and \(b)", file: file, line: line)
        XCTAssertEqual(
            h[a].duplicates.entriesInOrder(), h[b].duplicates.entriesInOrder(), "duplicate tables", file: file,
            line: line)
    }

    func testChunkedTransferCopiesStoreAndDuplicateTable() {
        let h = loadedPrimary()
        h.view(2, "p", "b")
        XCTAssertEqual(h.toBackup.count, 2, "transferWindow chunks in flight")
        h.settle()
        let chunks = h.notices("p") { $0.completedChunks != nil }.first?.completedChunks ?? 0
        XCTAssertGreaterThan(chunks, 30, "a small chunk size makes many chunks")
        assertSameState(h, "p", "b")
        XCTAssertEqual(h["b"].duplicates.count, 98)
        XCTAssertTrue(h["b"].incoming!.complete)
        XCTAssertTrue(h["p"].backupSynchronized)
        XCTAssertEqual(h["p"].pingViewnum, 2)
    }

    /// The keys go in byte order, not the hash table's: what a transfer sends then does not
    /// depend on the process's hash seed, and a simulated schedule replays the same in any
    /// process (docs/SIMULATION.md).
    func testChunksCarryTheKeysInByteOrder() {
        let h = loadedPrimary(keys: 200)
        h.view(2, "p", "b")
        var sent: [Bytes] = []
        while !h.toBackup.isEmpty || !h.toPrimary.isEmpty {
            if let chunk = h.toBackup.first?.chunk { sent += chunk.entries.map(\.key) }
            if !h.toBackup.isEmpty { h.deliverToBackup() } else { h.deliverToPrimary() }
        }
        XCTAssertEqual(sent.count, 201, "every key once")
        XCTAssertEqual(sent, h["p"].store.keysInOrder)
        assertSameState(h, "p", "b")
    }

    func testEmptyStateTransfersInOneChunk() {
        let h = Harness(["p", "b"])
        h.bootFirstPrimary("p")
        h.view(2, "p", "b")
        XCTAssertEqual(h.toBackup.count, 1)
        XCTAssertEqual(h.toBackup[0].chunk?.isLast, true)
        XCTAssertEqual(h.toBackup[0].chunk?.entries.count, 0)
        h.settle()
        XCTAssertEqual(h["p"].pingViewnum, 2)
    }

    func testTransferReplacesWhateverTheBackupHeld() {
        let h = loadedPrimary(keys: 20)
        h.view(2, "p", "b")
        h.settle()
        // b is dropped, misses updates, then comes back as backup of a later view.
        h.view(3, "p", "c")
        h.settle()
        h.request("p", .delete, "key-1", client: 900)
        h.request("p", .put, "new", "value", client: 901)
        h.settle()
        h.view(4, "p", "b")
        h.settle()
        assertSameState(h, "p", "b")
        XCTAssertNil(h["b"].store.value(b("key-1")))
    }

    func testPingViewnumStaysAtPreviousViewUntilLastChunkIsAcknowledged() {
        let h = loadedPrimary(keys: 50)
        h.view(2, "p", "b")
        XCTAssertEqual(h.tick("p").pings, [1])
        XCTAssertFalse(h["p"].backupSynchronized)
        var sawLastChunkAnswer = false
        while !h.toBackup.isEmpty || !h.toPrimary.isEmpty {
            if let next = h.toBackup.first {
                h.deliverToBackup()
                if next.chunk?.isLast == true {
                    // The backup holds everything, but the primary has not heard yet.
                    XCTAssertTrue(h["b"].incoming!.complete)
                    XCTAssertEqual(h["p"].pingViewnum, 1)
                    XCTAssertEqual(h.tick("p").pings, [1])
                }
            } else {
                XCTAssertEqual(h["p"].pingViewnum, 1, "still acknowledging only view 1")
                let effects = h.deliverToPrimary()
                if h["p"].backupSynchronized {
                    XCTAssertFalse(sawLastChunkAnswer)
                    sawLastChunkAnswer = true
                    XCTAssertEqual(effects.pings, [2], "acknowledges the view as soon as it can")
                    XCTAssertEqual(h["p"].pingViewnum, 2)
                }
            }
        }
        XCTAssertTrue(sawLastChunkAnswer)
        XCTAssertEqual(h["p"].pingViewnum, 2)
        XCTAssertEqual(h.tick("p").pings, [2])
    }

    func testClientRequestsDuringTransferAreDeferredAndAnsweredAfter() {
        let h = loadedPrimary(keys: 100)
        h.view(2, "p", "b")
        let put = h.request("p", .put, "key-1", "during", client: 700)
        let get = h.request("p", .get, "key-1", client: 701)
        let hash = h.request("p", .putHash, "hashed", "y", client: 702)
        XCTAssertEqual(h["p"].deferredRequests, 3)
        XCTAssertNotEqual(h["p"].store.value(b("key-1")), b("during"), "not applied during the transfer")
        h.deliverToBackup()
        h.deliverToPrimary()
        XCTAssertNil(h.reply(put))
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertEqual(h.reply(get), ClientReply(status: .ok, value: b("during")))
        XCTAssertEqual(h.reply(hash), ClientReply(status: .ok, value: putHashValue([], b("x"))))
        XCTAssertEqual(h.replyOrder.suffix(3), [put, get, hash])
        assertSameState(h, "p", "b")
    }

    func testDeferredRequestsBeyondLimitAreToldToRetryLater() {
        let h = loadedPrimary(keys: 100) {
            $0.transferChunkBytes = 100
            $0.maxDeferredRequests = 2
        }
        h.view(2, "p", "b")
        let a = h.request("p", .get, "key-1", client: 700)
        let bb = h.request("p", .get, "key-2", client: 701)
        let c = h.request("p", .get, "key-3", client: 702)
        XCTAssertEqual(h.reply(c), .retryLater)
        h.settle()
        XCTAssertEqual(h.reply(a)?.status, .ok)
        XCTAssertEqual(h.reply(bb)?.status, .ok)
    }

    func testDuplicatedChunksAreAcceptedIdempotently() {
        let h = loadedPrimary()
        h.view(2, "p", "b")
        var delivered = 0
        while !h.toBackup.isEmpty || !h.toPrimary.isEmpty {
            if !h.toBackup.isEmpty {
                let envelope = h.toBackup[0]
                h.deliverToBackup()
                h.inject(envelope)  // the network delivers it twice
                XCTAssertEqual(h.toPrimary.last?.ack.verdict, .accepted)
                delivered += 1
            } else {
                h.deliverToPrimary()
            }
        }
        XCTAssertGreaterThan(delivered, 30)
        XCTAssertTrue(h.notices("p", where: \.isTransferRestarted).isEmpty)
        assertSameState(h, "p", "b")
        XCTAssertEqual(h["p"].pingViewnum, 2)
    }

    func testLateCopyOfFirstChunkDoesNotWipeTheBackup() {
        let h = loadedPrimary()
        h.view(2, "p", "b")
        let chunk0 = h.toBackup[0]
        let chunk1 = h.toBackup[1]
        XCTAssertEqual(chunk0.chunk?.index, 0)
        // Mid-transfer: chunks 0..3 applied, then a stray copy of chunk 0.
        for _ in 0..<3 {
            h.deliverToBackup()
            h.deliverToPrimary()
        }
        let keysBefore = h["b"].store.count
        h.inject(chunk0)
        XCTAssertEqual(h.toPrimary.last?.ack.verdict, .accepted, "a resend of a chunk already applied")
        XCTAssertEqual(h["b"].store.count, keysBefore, "chunks already received are kept")
        h.deliverToPrimary(at: h.toPrimary.count - 1)
        h.settle()
        XCTAssertTrue(h.notices("p", where: \.isTransferRestarted).isEmpty, "no restart was needed")
        assertSameState(h, "p", "b")

        // After completion and some forwarded updates: stray copies of chunks 0 and 1.
        for i in 0..<10 { h.request("p", .put, "after-\(i)", "v", client: UInt64(800 + i)) }
        h.settle()
        h.inject(chunk0)
        h.inject(chunk1)
        XCTAssertEqual(h.toPrimary.suffix(2).map(\.ack.verdict), [.accepted, .accepted])
        h.settle()
        assertSameState(h, "p", "b")
        let put = h.request("p", .put, "final", "v", client: 900)
        h.settle()
        XCTAssertEqual(h.reply(put), ClientReply(status: .ok))
        XCTAssertEqual(h["b"].store.value(b("final")), b("v"), "the backup still takes this view's forwards")
        // And it can be promoted with everything.
        h.view(3, "b", to: ["b"])
        XCTAssertTrue(h["b"].isServing)
        assertSameState(h, "p", "b")
    }

    func testChunkOfAnAbandonedTransferIsNotApplied() {
        let h = loadedPrimary(keys: 40)
        h.view(2, "p", "b")
        let oldChunk0 = h.toBackup[0]
        h.deliverToBackup()  // chunk 0 taken
        h.deliverToPrimary()  // and acknowledged
        // The backup restarts, losing the chunks on their way and its stream.
        h.add("b")
        h.view(2, "p", "b", to: ["b"])
        h.toBackup.removeAll()
        h.tick("p", times: 10)  // no answers: the unacknowledged chunks go again
        XCTAssertEqual(h.notices("p", where: \.isTransferResumed).count, 1)
        h.settle()  // the resend of the first of them is refused: the backup has no stream
        h.tick("p")
        XCTAssertEqual(h.notices("p", where: \.isTransferRestarted).count, 1)
        XCTAssertNotEqual(h.toBackup.first?.chunk?.transferID, oldChunk0.chunk?.transferID)
        XCTAssertEqual(h.toBackup.first?.chunk?.index, 0)
        h.settle()
        h.request("p", .put, "later", "v", client: 999)
        h.settle()
        h.inject(oldChunk0)
        h.settle()
        assertSameState(h, "p", "b")
        XCTAssertEqual(h["b"].store.value(b("later")), b("v"))
    }

    func testALostChunkIsSentAgainUnderTheSameTransfer() {
        let h = loadedPrimary()
        h.view(2, "p", "b")
        let transferID = h.toBackup[0].chunk!.transferID
        h.deliverToBackup()  // chunk 0
        h.dropToBackup()  // chunk 1 is lost
        h.deliverToPrimary()  // chunk 0 acknowledged: chunk 2 goes out
        XCTAssertEqual(h.toBackup.first?.chunk?.index, 2)
        h.deliverToBackup()
        XCTAssertEqual(h.toPrimary.last?.ack.verdict, .outOfOrder, "a gap in chunk numbers")
        h.settle()
        XCTAssertEqual(h["p"].pingViewnum, 1)
        XCTAssertTrue(h.toBackup.isEmpty, "nothing more until the next tick")
        h.tick("p")
        XCTAssertEqual(h.notices("p", where: \.isTransferResumed).count, 1)
        XCTAssertEqual(h.toBackup.map { $0.chunk?.index }, [1, 2], "the unacknowledged chunks, in order")
        XCTAssertEqual(h.toBackup[0].chunk?.transferID, transferID)
        h.settle()
        assertSameState(h, "p", "b")
        XCTAssertEqual(h["b"].incoming?.transferID, transferID, "the backup kept what it had taken")
        XCTAssertEqual(h.notices("p", where: \.isTransferRestarted).count, 0)
        XCTAssertEqual(h["p"].pingViewnum, 2)
    }

    /// Issue 17: over a link that reorders, a transfer restarted from the first chunk at
    /// every gap, and a link that reorders often enough never let it finish.
    func testALinkThatSwapsEveryTwoChunksStillCompletesTheTransfer() {
        let h = loadedPrimary(keys: 300) {
            $0.transferChunkBytes = 100
            $0.transferWindow = 2
        }
        h.view(2, "p", "b")
        let transferID = h.toBackup[0].chunk!.transferID
        var rounds = 0
        while !h["p"].backupSynchronized {
            rounds += 1
            guard rounds < 5_000 else { return XCTFail("the transfer never completed") }
            if h.toBackup.count >= 2 {
                h.deliverToBackup(at: 1)  // the later chunk overtakes the earlier one
                h.deliverToBackup(at: 0)
            } else if !h.toBackup.isEmpty {
                h.deliverToBackup()
            }
            while !h.toPrimary.isEmpty { h.deliverToPrimary() }
            if h.toBackup.isEmpty { h.tick("p") }
        }
        assertSameState(h, "p", "b")
        XCTAssertEqual(h["b"].incoming?.transferID, transferID, "restarted instead of resumed")
        XCTAssertEqual(h.notices("p", where: \.isTransferRestarted).count, 0)
    }

    func testSilentlyLostChunksAreSentAgainAfterResendTicks() {
        let h = loadedPrimary {
            $0.transferChunkBytes = 100
            $0.resendAfterTicks = 5
        }
        h.view(2, "p", "b")
        let lost = h.toBackup.map { $0.chunk!.index }
        h.toBackup.removeAll()
        for _ in 0..<4 {
            h.tick("p")
            XCTAssertTrue(h.toBackup.isEmpty)
        }
        h.tick("p")
        XCTAssertEqual(h.notices("p", where: \.isTransferResumed).count, 1)
        XCTAssertEqual(h.toBackup.map { $0.chunk!.index }, lost)
        h.settle()
        assertSameState(h, "p", "b")
    }

    func testATransportFailureOfAChunkSendsItAgainAtTheNextTick() {
        let h = loadedPrimary()
        h.view(2, "p", "b")
        h.deliverToBackup()
        h.failToBackup()
        h.settle()
        XCTAssertEqual(h["p"].pingViewnum, 1)
        h.tick("p")
        h.settle()
        XCTAssertEqual(h.notices("p", where: \.isTransferResumed).count, 1)
        XCTAssertEqual(h.notices("p", where: \.isTransferRestarted).count, 0)
        assertSameState(h, "p", "b")
    }

    func testTransferAndStreamingUnderSeededReorderingAndLoss() {
        for seed in UInt64(1)...20 {
            var rng = SplitMix64(seed: seed)
            let h = loadedPrimary(keys: 120) {
                $0.transferChunkBytes = 80
                $0.transferWindow = 3
                $0.resendAfterTicks = 3
                $0.maxBatchesInFlight = 3
            }
            h.view(2, "p", "b")
            var tokens: [ReplyToken] = []
            for round in 0..<3_000 {
                if round % 10 == 0, tokens.count < 60 {
                    tokens.append(
                        h.request(
                            "p", .putHash, "k\(tokens.count % 5)", "\(round)", client: UInt64(2_000 + tokens.count),
                            seq: 1))
                }
                let roll = rng.below(100)
                if roll < 45, !h.toBackup.isEmpty {
                    let index = rng.below(h.toBackup.count)
                    if rng.chance(15) {
                        h.dropToBackup(at: index)
                    } else if rng.chance(10) {
                        h.inject(h.toBackup[index])
                    } else {
                        h.deliverToBackup(at: index)
                    }
                } else if roll < 85, !h.toPrimary.isEmpty {
                    let index = rng.below(h.toPrimary.count)
                    if rng.chance(15) { h.toPrimary.remove(at: index) } else { h.deliverToPrimary(at: index) }
                } else {
                    h.tick("p")
                }
            }
            // Heal the network.
            for _ in 0..<50 {
                h.settle()
                h.tick("p")
            }
            h.settle()
            assertSameState(h, "p", "b")
            XCTAssertEqual(h["p"].pingViewnum, 2, "seed \(seed)")
            XCTAssertTrue(tokens.allSatisfy { h.reply($0)?.status == .ok }, "seed \(seed)")
        }
    }
}
