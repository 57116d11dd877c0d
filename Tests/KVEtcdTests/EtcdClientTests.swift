import KVEtcd
import KVTestSupport
import NIOCore
import XCTest

/// The client against one real 3-member etcd cluster, shared by the class's tests; each
/// test works under a key prefix of its own, and starts with every member running.
final class EtcdClientTests: XCTestCase {
    private static let shared = SharedEtcdCluster(members: 3)

    override class func tearDown() {
        shared.stop()
        super.tearDown()
    }

    private struct Fixture {
        var cluster: EtcdCluster
        var client: EtcdClient
        /// This test's keys start with it.
        var prefix: [UInt8]

        func key(_ name: String) -> [UInt8] { prefix + bytes(name) }
    }

    /// The shared cluster, healed, and a client of its members in `order` (by default
    /// 0, 1, 2: the first is the preferred one).
    private func fixture(order: [Int]? = nil, requestTimeout: TimeAmount = .seconds(1)) async throws -> Fixture {
        let cluster = try await Self.shared.healthyCluster()
        let order = order ?? Array(cluster.endpoints.indices)
        let client = EtcdClient(
            endpoints: try order.map { try EtcdEndpoint.parse(cluster.endpoints[$0]) }, group: Shared.group,
            requestTimeout: requestTimeout, logger: Shared.logger)
        addTeardownBlock { client.close() }
        let test = name.split(separator: " ").last?.filter { $0.isLetter } ?? "test"
        return Fixture(cluster: cluster, client: client, prefix: bytes("kv-tests/\(test)/"))
    }

    // MARK: Keys and transactions

    func testPutAndGetRoundTripBinaryKeysAndValues() async throws {
        let f = try await fixture()
        let key = f.prefix + [0x00, 0xff, 0x80, 0x0a, 0x22, 0x5c]
        let value = (0...255).map { UInt8($0) } + [0x00]
        let put = try await f.client.txn(compare: [], success: [.put(key: key, value: value)], failure: []).get()
        XCTAssertEqual(put.succeeded, true)
        XCTAssertEqual(put.results, [.put])

        let (kv, revision) = try await f.client.get(key).get()
        XCTAssertEqual(
            kv,
            EtcdKeyValue(
                key: key, value: value, createRevision: put.revision, modRevision: put.revision, version: 1, lease: 0))
        XCTAssertGreaterThanOrEqual(revision, put.revision)

        // An empty value is a value (the gateway leaves the field out).
        let empty = f.key("empty")
        _ = try await f.client.txn(compare: [], success: [.put(key: empty, value: [])], failure: []).get()
        let read = try await f.client.get(empty).get()
        XCTAssertEqual(read.kv?.value, [])
        XCTAssertEqual(read.kv?.version, 1)

        // An absent key reads as nil, with the store's revision.
        let absent = try await f.client.get(f.key("absent")).get()
        XCTAssertNil(absent.kv)
        XCTAssertGreaterThanOrEqual(absent.revision, put.revision)

        // A prefix read returns the keys under the prefix, in key order, and nothing else
        // (the prefix ends in 0xff: its range end carries into the byte before).
        let under = f.prefix + [0xff]
        let inside = [under + [0x01], under + [0xff, 0xff], under]
        let outside = [f.prefix + [0xfe], Array(f.prefix.dropLast()) + [f.prefix.last! + 1]]
        _ = try await f.client.txn(
            compare: [], success: (inside + outside).map { .put(key: $0, value: [1]) }, failure: []
        ).get()
        let listed = try await f.client.txn(compare: [], success: [.getPrefix(under)], failure: []).get()
        guard case .get(let kvs) = listed.results.first else { return XCTFail("not a get: \(listed.results)") }
        XCTAssertEqual(kvs.map(\.key), inside.sorted { $0.lexicographicallyPrecedes($1) })
    }

    func testCreateIfAbsentSucceedsOnceThenReturnsTheExistingKey() async throws {
        let f = try await fixture()
        let key = f.key("leader")
        func create(_ value: String) async throws -> EtcdTxnResult {
            try await f.client.txn(
                compare: [.createRevision(key: key, equals: 0)], success: [.put(key: key, value: bytes(value))],
                failure: [.get(key: key)]
            ).get()
        }
        let first = try await create("A")
        XCTAssertTrue(first.succeeded)
        XCTAssertEqual(first.results, [.put])

        let second = try await create("B")
        XCTAssertFalse(second.succeeded, "the key exists: the comparison must fail")
        XCTAssertEqual(
            second.results,
            [
                .get([
                    EtcdKeyValue(
                        key: key, value: bytes("A"), createRevision: first.revision, modRevision: first.revision,
                        version: 1)
                ])
            ])
        XCTAssertEqual(second.revision, first.revision, "a failed transaction writes nothing")

        // Deleting is an operation too, and reports what it deleted.
        let deleted = try await f.client.txn(
            compare: [.value(key: key, equals: bytes("A"))], success: [.delete(key: key)], failure: []
        ).get()
        XCTAssertEqual(deleted.results, [.delete(deleted: 1)])
        let again = try await create("C")
        XCTAssertTrue(again.succeeded, "absent again: created again")
    }

    /// Why the monitor's writes must be fenced on its leader key's create revision, and
    /// not only on the view key's mod revision: a deposed leader that has not noticed yet
    /// still holds a current view revision until the new leader writes the view.
    func testFencingOnTheLeaderKeysCreateRevisionRejectsADeposedLeader() async throws {
        let f = try await fixture()
        let leaderKey = f.key("leader")
        let viewKey = f.key("view")
        let client = f.client

        // A becomes leader: the leader key, on A's lease; A's token is its create revision.
        let leaseA = try await client.grantLease(ttlSeconds: 10).get()
        let electedA = try await client.txn(
            compare: [.createRevision(key: leaderKey, equals: 0)],
            success: [.put(key: leaderKey, value: bytes("A"), lease: leaseA.id)], failure: []
        ).get()
        XCTAssertTrue(electedA.succeeded)
        let tokenA = electedA.revision

        // A writes the view, fenced on its token.
        let viewByA = try await client.txn(
            compare: [.createRevision(key: leaderKey, equals: tokenA)],
            success: [.put(key: viewKey, value: bytes("view 1 by A"))], failure: []
        ).get()
        XCTAssertTrue(viewByA.succeeded)

        // A is deposed (its lease revoked: expired, in real life) and B takes over. B has
        // read the view but not written it yet.
        try await client.revoke(lease: leaseA.id).get()
        let gone = try await client.get(leaderKey).get()
        XCTAssertNil(gone.kv, "the leader key went with A's lease")
        let leaseB = try await client.grantLease(ttlSeconds: 10).get()
        let electedB = try await client.txn(
            compare: [.createRevision(key: leaderKey, equals: 0)],
            success: [.put(key: leaderKey, value: bytes("B"), lease: leaseB.id)], failure: []
        ).get()
        XCTAssertTrue(electedB.succeeded)
        let tokenB = electedB.revision
        let viewSeenByB = try await client.get(viewKey).get().kv
        XCTAssertEqual(viewSeenByB?.modRevision, viewByA.revision)

        // A, unaware, writes again. Fenced on its token as well, it is rejected, and the
        // failure branch tells it who leads now.
        let fenced = try await client.txn(
            compare: [
                .createRevision(key: leaderKey, equals: tokenA), .modRevision(key: viewKey, equals: viewByA.revision),
            ],
            success: [.put(key: viewKey, value: bytes("view 2 by A"))], failure: [.get(key: leaderKey)]
        ).get()
        XCTAssertFalse(fenced.succeeded, "a deposed leader's write fenced on its token must be rejected")
        guard case .get(let leaders) = fenced.results.first else { return XCTFail("\(fenced.results)") }
        XCTAssertEqual(leaders.map(\.value), [bytes("B")])
        XCTAssertEqual(leaders.first?.createRevision, tokenB)
        XCTAssertEqual(leaders.first?.lease, leaseB.id)

        // The hazard: fenced on the view's mod revision alone, A's write goes through.
        let unfenced = try await client.txn(
            compare: [.modRevision(key: viewKey, equals: viewByA.revision)],
            success: [.put(key: viewKey, value: bytes("view 2 by A"))], failure: []
        ).get()
        XCTAssertTrue(unfenced.succeeded, "expected the hazard: a mod-revision-only fence lets a deposed leader write")

        // B's own fenced write (on the view it now reads) goes through.
        let current = try await client.get(viewKey).get().kv
        let viewByB = try await client.txn(
            compare: [
                .createRevision(key: leaderKey, equals: tokenB),
                .modRevision(key: viewKey, equals: current?.modRevision ?? -1),
            ],
            success: [.put(key: viewKey, value: bytes("view 2 by B"))], failure: []
        ).get()
        XCTAssertTrue(viewByB.succeeded)
        try await client.revoke(lease: leaseB.id).get()
    }

    // MARK: Leases

    func testKeepAliveReturnsTheTTLThenNilOnceRevoked() async throws {
        let f = try await fixture()
        let lease = try await f.client.grantLease(ttlSeconds: 7).get()
        XCTAssertNotEqual(lease.id, 0)
        XCTAssertEqual(lease.ttlSeconds, 7)
        let key = f.key("held")
        _ = try await f.client.txn(
            compare: [], success: [.put(key: key, value: bytes("x"), lease: lease.id)], failure: []
        ).get()
        let held = try await f.client.get(key).get().kv
        XCTAssertEqual(held?.lease, lease.id)

        let renewed = try await f.client.keepAlive(lease: lease.id).get()
        XCTAssertEqual(renewed, 7)

        try await f.client.revoke(lease: lease.id).get()
        let afterRevoke = try await f.client.keepAlive(lease: lease.id).get()
        XCTAssertNil(afterRevoke, "a revoked lease cannot be kept alive")
        let released = try await f.client.get(key).get().kv
        XCTAssertNil(released, "the lease's key went with it")
    }

    func testRevokingALeaseThatIsGoneSucceeds() async throws {
        let f = try await fixture()
        let lease = try await f.client.grantLease(ttlSeconds: 5).get()
        try await f.client.revoke(lease: lease.id).get()
        try await f.client.revoke(lease: lease.id).get()
        // A lease that never existed (etcd's IDs are positive).
        try await f.client.revoke(lease: 0x1234_5678).get()
    }

    // MARK: Watches

    func testWatchSeesPutsAndDeletesInOrderWithTheirRevisions() async throws {
        let f = try await fixture()
        let client = f.client
        // Under a prefix ending in 0xff, whose range end carries into the byte before.
        let prefix = f.prefix + [0xff]
        let start = try await client.get(f.key("nothing")).get().revision + 1
        let seen = Locked<[(batch: Int64, event: EtcdWatchEvent)]>([])
        let watch = client.watch(prefix: prefix, fromRevision: start) { events, revision in
            seen.update { $0 += events.map { (revision, $0) } }
        }

        let a = prefix + bytes("a")
        let b = prefix + [0x00, 0xff]
        let put1 = try await client.txn(compare: [], success: [.put(key: a, value: bytes("1"))], failure: []).get()
        // Outside the prefix, on both sides: never seen.
        _ = try await client.txn(
            compare: [],
            success: [
                .put(key: f.prefix + [0xfe], value: []),
                .put(key: Array(f.prefix.dropLast()) + [f.prefix.last! + 1], value: []),
            ], failure: []
        ).get()
        let put2 = try await client.txn(compare: [], success: [.put(key: a, value: bytes("2"))], failure: []).get()
        let delete = try await client.txn(compare: [], success: [.delete(key: a)], failure: []).get()
        // Two changes in one transaction: one batch, one revision.
        let both = try await client.txn(
            compare: [], success: [.put(key: b, value: bytes("b")), .put(key: a, value: bytes("3"))], failure: []
        ).get()

        func put(_ key: [UInt8], _ value: String, created: Int64, modified: Int64, version: Int64) -> EtcdWatchEvent {
            .put(
                EtcdKeyValue(
                    key: key, value: bytes(value), createRevision: created, modRevision: modified, version: version))
        }
        let (r1, r2, r3, r4) = (put1.revision, put2.revision, delete.revision, both.revision)
        let expected: [(Int64, EtcdWatchEvent)] = [
            (r1, put(a, "1", created: r1, modified: r1, version: 1)),
            (r2, put(a, "2", created: r1, modified: r2, version: 2)),
            (r3, .delete(key: a, modRevision: r3)),
            (r4, put(b, "b", created: r4, modified: r4, version: 1)),
            (r4, put(a, "3", created: r4, modified: r4, version: 1)),
        ]
        try await waitUntil("the watch saw \(expected.count) events", timeout: 5, detail: { "\(seen.get())" }) {
            seen.get().count >= expected.count
        }
        let events = seen.get()
        XCTAssertEqual(events.map(\.event), expected.map(\.1))
        // A batch's header revision is that of its events when the watch is up to date,
        // but etcd sends a watch that is catching up on history (created after some of
        // these writes, on a busy machine) its events with the store's current revision:
        // the header says "seen up to", each event's own revision says when it happened.
        let batches = events.map(\.batch)
        XCTAssertEqual(batches, batches.sorted(), "batch revisions never go back")
        for (batch, revision) in zip(batches, expected.map(\.0)) {
            XCTAssertGreaterThanOrEqual(batch, revision)
            XCTAssertLessThanOrEqual(batch, r4)
        }

        // Watching again from the first put replays the same history.
        let replayed = Locked<[EtcdWatchEvent]>([])
        let replay = client.watch(prefix: prefix, fromRevision: put1.revision) { events, _ in
            replayed.update { $0 += events }
        }
        try await waitUntil("the replay saw \(expected.count) events", timeout: 5) {
            replayed.get().count >= expected.count
        }
        XCTAssertEqual(replayed.get(), expected.map(\.1))

        watch.cancel()
        replay.cancel()
        let end = try await endOf(watch, within: 5)
        XCTAssertEqual(end, .closed)
        let replayEnd = try await endOf(replay, within: 5)
        XCTAssertEqual(replayEnd, .closed)
    }

    func testWatchFromACompactedRevisionEndsWithCompacted() async throws {
        let f = try await fixture()
        let key = f.key("k")
        var revisions: [Int64] = []
        for value in ["1", "2", "3"] {
            revisions.append(
                try await f.client.txn(compare: [], success: [.put(key: key, value: bytes(value))], failure: []).get()
                    .revision)
        }
        let compaction = f.cluster.post("/v3/kv/compaction", json: "{\"revision\":\"\(revisions[2])\"}")
        XCTAssertEqual(compaction?.status, 200, "compaction: \(String(describing: compaction))")

        let seen = Locked<Int>(0)
        let watch = f.client.watch(prefix: f.prefix, fromRevision: revisions[0]) { events, _ in
            seen.update { $0 += events.count }
        }
        let end = try await endOf(watch, within: 5)
        XCTAssertEqual(end, .compacted(compactRevision: revisions[2]))
        XCTAssertEqual(seen.get(), 0, "no event from a compacted history")

        // From the compaction revision on, the history is there.
        let fromCompaction = Locked<[EtcdWatchEvent]>([])
        let current = f.client.watch(prefix: f.prefix, fromRevision: revisions[2]) { events, _ in
            fromCompaction.update { $0 += events }
        }
        try await waitUntil("the watch from the compaction revision sees the last put", timeout: 5) {
            !fromCompaction.get().isEmpty
        }
        guard case .put(let kv) = fromCompaction.get().first else { return XCTFail("\(fromCompaction.get())") }
        XCTAssertEqual(kv.value, bytes("3"))
        current.cancel()
    }

    // MARK: Failures

    /// A dead member is avoided: a read, and a transaction too, tries the next member at
    /// once (the connection was refused: nothing was sent, so nothing can have taken
    /// effect), and the preference moves there.
    func testKillingThePreferredMemberMovesRequestsToAnother() async throws {
        let cluster = try await Self.shared.healthyCluster()
        // The preferred member is a follower, so that no election follows its death.
        let leader = try XCTUnwrap(cluster.leader(), "no member says it is the leader")
        let follower = (leader + 1) % 3
        let order = [follower, (follower + 1) % 3, (follower + 2) % 3]
        let reader = try await fixture(order: order)
        let writer = try await fixture(order: order)
        _ = try await reader.client.get(reader.key("warm")).get()

        await cluster.kill(follower)
        let clock = ContinuousClock()
        let started = clock.now
        let read = try await reader.client.get(reader.key("k")).get()
        XCTAssertNil(read.kv)
        XCTAssertEqual(reader.client.preferredEndpoint, reader.client.endpoints[1])

        let written = try await writer.client.txn(
            compare: [], success: [.put(key: writer.key("k"), value: [2])], failure: []
        ).get()
        XCTAssertTrue(written.succeeded)
        XCTAssertEqual(writer.client.preferredEndpoint, writer.client.endpoints[1])
        let (stored, _) = try await writer.client.get(writer.key("k")).get()
        XCTAssertEqual(stored?.value, [2])
        XCTAssertEqual(stored?.version, 1, "written once")
        XCTAssertLessThan(clock.now - started, .seconds(2), "a refused connection must fail fast")

        // A watch starts on the preferred member too: the live one, which replays the write.
        let seen = Locked<Bool>(false)
        let watch = writer.client.watch(prefix: writer.prefix, fromRevision: written.revision) { events, _ in
            if !events.isEmpty { seen.set(true) }
        }
        try await waitUntil("a watch on the next member replays the write", timeout: 5) { seen.get() }
        watch.cancel()
        let watchEnd = try await endOf(watch, within: 5)
        XCTAssertEqual(watchEnd, .closed)

        // Restarted, the member serves again, with the write it missed.
        try await cluster.restart(follower)
        let restarted = EtcdClient(
            endpoints: [try EtcdEndpoint.parse(cluster.endpoints[follower])], group: Shared.group,
            logger: Shared.logger)
        defer { restarted.close() }
        let caughtUp = try await restarted.get(writer.key("k")).get()
        XCTAssertEqual(caughtUp.kv?.value, [2])
    }

    /// Two of three members stopped: the remaining one has no quorum. A transaction fails
    /// within its timeout instead of hanging, a watch on the remaining member ends (it was
    /// opened with hasleader), and once the members resume, requests succeed again.
    func testQuorumLossFailsRequestsInTimeEndsWatchesAndRecovers() async throws {
        let f = try await fixture(requestTimeout: .seconds(1))
        let watched = Locked<[EtcdWatchEvent]>([])
        let start = try await f.client.get(f.key("nothing")).get().revision + 1
        let watch = f.client.watch(prefix: f.prefix, fromRevision: start) { events, _ in
            watched.update { $0 += events }
        }
        _ = try await f.client.txn(compare: [], success: [.put(key: f.key("k"), value: [1])], failure: []).get()
        try await waitUntil("the watch is live", timeout: 5) { !watched.get().isEmpty }

        try await f.cluster.pause(1)
        try await f.cluster.pause(2)
        let clock = ContinuousClock()
        let started = clock.now
        let failed = await etcdError(
            f.client.txn(compare: [], success: [.put(key: f.key("k"), value: [2])], failure: []))
        let elapsed = clock.now - started
        XCTAssertTrue(isUnreachableOrUnavailable(failed), "\(String(describing: failed))")
        XCTAssertLessThan(elapsed, .milliseconds(2500), "the request must end with its 1 s timeout")

        // The watch is on member 0, which runs but has lost its leader.
        let end = try await endOf(watch, within: 20)
        guard case .unavailable(_, let detail) = end else {
            return XCTFail("expected unavailable, got \(String(describing: end))")
        }
        XCTAssertTrue(detail.contains("no leader"), detail)

        f.cluster.resume(1)
        f.cluster.resume(2)
        try await waitUntil("a transaction succeeds again", timeout: 20) {
            let result = try? await f.client.txn(
                compare: [], success: [.put(key: f.key("k"), value: [3])], failure: []
            ).get()
            return result?.succeeded == true
        }
        // The members that resume may still move the leadership once more (etcd 3.4 runs
        // without pre-vote, so the member left alone raised its term while it campaigned),
        // and a read meanwhile is answered "no leader": the read is retried in the same way.
        let final = Locked<EtcdKeyValue?>(nil)
        try await waitUntil("a read succeeds again", timeout: 20) {
            guard let read = try? await f.client.get(f.key("k")).get() else { return false }
            final.set(read.kv)
            return true
        }
        XCTAssertEqual(final.get()?.value, [3])
    }
}
