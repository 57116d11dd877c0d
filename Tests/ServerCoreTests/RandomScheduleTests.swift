import XCTest

@testable import KVProtocol
@testable import ServerCore

/// Seeded fault schedules through the real cores: the network between primary and backup
/// drops, duplicates, delays and reorders; the backup restarts midway; clients retry.
/// At the end both servers agree, every PutHash was applied exactly once, and the backup
/// can take over with everything.
final class RandomScheduleTests: XCTestCase {
    private struct Client {
        let id: UInt64
        let key: String
        var seq: UInt64 = 0
        var argument = ""
        var answered = true
        var done = 0
        var ticksWaiting = 0
        /// The model: what the client's key holds after its acknowledged PutHashes.
        var stored: Bytes = []
        /// The previous value each sequence number must report.
        var previousBySeq: [UInt64: Bytes] = [:]
    }

    private func simulate(seed: UInt64, rounds: Int = 12_000) -> (restarts: Int, resends: Int) {
        var rng = SplitMix64(seed: seed)
        let configure: (inout ServerConfig) -> Void = {
            $0.transferChunkBytes = 64
            $0.transferWindow = 2
            $0.maxBatchesInFlight = 3
            $0.maxBatchUpdates = 4
            $0.resendAfterTicks = 3
        }
        let h = Harness(["p", "b"], configure: configure)
        h.bootFirstPrimary("p")
        for i in 0..<40 { h.request("p", .put, "pre-\(i)", "value-\(i)", client: 1_000, seq: UInt64(i + 1)) }
        let preloaded = h["p"].store
        h.view(2, "p", "b")

        var clients = (0..<6).map { Client(id: UInt64($0 + 1), key: "key-\($0 % 4)-\($0)") }
        let opsPerClient = 40
        var owner: [ReplyToken: (client: Int, seq: UInt64)] = [:]
        var seen = 0
        var restarted = false
        var doneAtRestart = 0
        var delayed: [Envelope] = []

        func issue(_ i: Int) {
            let token = h.request(
                "p", .putHash, clients[i].key, clients[i].argument, client: clients[i].id, seq: clients[i].seq)
            owner[token] = (i, clients[i].seq)
            clients[i].ticksWaiting = 0
        }

        func processReplies() {
            while seen < h.replyOrder.count {
                let token = h.replyOrder[seen]
                seen += 1
                guard let (i, seq) = owner[token] else { continue }
                let all = h.replies[token]!
                XCTAssertEqual(all.count, 1, "seed \(seed): token answered twice")
                let reply = all[0]
                switch reply.status {
                case .ok:
                    XCTAssertEqual(
                        reply.value, clients[i].previousBySeq[seq],
                        "seed \(seed) client \(i) seq \(seq): previous value")
                    if seq == clients[i].seq && !clients[i].answered {
                        clients[i].answered = true
                        clients[i].done += 1
                        clients[i].stored = putHashValue(clients[i].stored, b(clients[i].argument))
                    }
                case .wrongServer, .retryLater:
                    break  // retried after a while
                default:
                    XCTFail("seed \(seed): unexpected reply \(reply) to client \(i) seq \(seq)")
                }
            }
        }

        func clientTurn() {
            let i = rng.below(clients.count)
            if clients[i].answered, clients[i].done < opsPerClient {
                clients[i].seq += 1
                clients[i].argument = "s\(seed)-c\(i)-\(clients[i].seq)"
                clients[i].answered = false
                clients[i].previousBySeq[clients[i].seq] = clients[i].stored
                issue(i)
            }
        }

        func tick() {
            h.tick("p")
            h.tick("b")
            for i in clients.indices where !clients[i].answered {
                clients[i].ticksWaiting += 1
                if clients[i].ticksWaiting > 6 { issue(i) }  // a client retry: same id and seq
            }
        }

        for round in 0..<rounds {
            let totalDone = clients.map(\.done).reduce(0, +)
            if !restarted && (totalDone >= clients.count * opsPerClient / 3 || round == rounds * 3 / 4) {
                // The backup restarts empty; the monitor makes a new view with the same backup.
                restarted = true
                doneAtRestart = clients.map(\.done).reduce(0, +)
                h.add("b", configure: configure)
                h.view(3, "p", "b")
            }
            let roll = rng.below(100)
            if roll < 8 {
                clientTurn()
            } else if roll < 50, !h.toBackup.isEmpty {
                // Mostly in order, as on one TCP connection; sometimes reordered, as
                // across reconnections.
                let index = rng.chance(10) ? rng.below(h.toBackup.count) : 0
                if rng.chance(6) {
                    h.dropToBackup(at: index)
                } else if rng.chance(5) {
                    h.failToBackup(at: index)
                } else if rng.chance(4) {
                    delayed.append(h.toBackup[index])  // a copy turns up much later
                } else if rng.chance(10) {
                    h.inject(h.toBackup[index])  // duplicated: a copy stays in the network
                } else {
                    h.deliverToBackup(at: index)
                }
            } else if roll < 85, !h.toPrimary.isEmpty {
                let index = rng.chance(10) ? rng.below(h.toPrimary.count) : 0
                if rng.chance(6) { h.toPrimary.remove(at: index) } else { h.deliverToPrimary(at: index) }
            } else if roll < 93 {
                tick()
            } else if roll < 95, !delayed.isEmpty {
                h.inject(delayed.remove(at: rng.below(delayed.count)))
            }
            processReplies()
        }

        // The last stragglers arrive; then the network heals and every client finishes.
        for envelope in delayed { h.inject(envelope) }
        var healing = 0
        while (clients.contains(where: { !$0.answered || $0.done < opsPerClient }) || !h["p"].backupSynchronized)
            && healing < 5_000
        {
            healing += 1
            clientTurn()
            h.settle()
            processReplies()
            if healing % 3 == 0 { tick() }
        }
        h.settle()
        processReplies()
        XCTAssertLessThan(healing, 5_000, "seed \(seed): clients never finished")
        XCTAssertLessThan(doneAtRestart, clients.count * opsPerClient, "seed \(seed): traffic spans the restart")

        XCTAssertEqual(h["p"].store, h["b"].store, "seed \(seed)")
        XCTAssertEqual(h["p"].duplicates.entriesInOrder(), h["b"].duplicates.entriesInOrder(), "seed \(seed)")
        XCTAssertEqual(h["p"].pingViewnum, 3, "seed \(seed)")
        for (key, value) in preloaded.values { XCTAssertEqual(h["b"].store.value(key), value, "seed \(seed)") }
        for client in clients {
            XCTAssertEqual(h["p"].store.value(b(client.key)), client.stored, "seed \(seed): every PutHash applied once")
        }

        // The backup takes over and answers the last retries from its table.
        h.view(4, "b", to: ["b"])
        XCTAssertTrue(h["b"].isServing, "seed \(seed)")
        for client in clients {
            let retry = h.request("b", .putHash, b(client.key), b(client.argument), client: client.id, seq: client.seq)
            XCTAssertEqual(h.reply(retry), ClientReply(status: .ok, value: client.previousBySeq[client.seq]!))
            XCTAssertEqual(h["b"].store.value(b(client.key)), client.stored)
        }
        let restarts = h.notices("p") { $0.isTransferRestarted || $0.isTransferResumed }.count
        let resends = h.notices("p") { if case .forwardResent = $0 { return true } else { return false } }.count
        return (restarts, resends)
    }

    func testSeededFaultSchedulesConverge() {
        var restarts = 0
        var resends = 0
        for seed in UInt64(1)...12 {
            let result = simulate(seed: seed)
            restarts += result.restarts
            resends += result.resends
        }
        // The schedules really did exercise the recovery paths.
        XCTAssertGreaterThan(restarts, 0)
        XCTAssertGreaterThan(resends, 0)
    }
}
