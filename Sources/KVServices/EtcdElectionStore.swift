import KVEtcd
import KVProtocol
import Logging
import MonitorCore
import NIOCore
import NodeDriver

/// The monitors' shared store in etcd (docs/DESIGN.md §2.7): under `/kvservice/NAME/`,
/// the leader key (the leader's address, on its lease) and the view (in the view
/// file's text format, readable with `etcdctl get`).
///
/// Completions run as tasks of their own on `loop`, the driver's, never inside the call.
final class EtcdElectionStore: ElectionStore, @unchecked Sendable {
    private let client: EtcdClient
    private let loop: any EventLoop
    private let leaderKey: [UInt8]
    private let viewKey: [UInt8]
    private let prefix: [UInt8]
    private let logger: Logger
    /// For keep-alives: a third of the lease, so that one lost request leaves time for
    /// another before the leadership's validity ends.
    private let keepAliveTimeout: TimeAmount

    init(client: EtcdClient, loop: any EventLoop, cluster: String, leaseTTL: TimeAmount, logger: Logger) {
        self.client = client
        self.loop = loop
        self.prefix = Array("/kvservice/\(cluster)/".utf8)
        self.leaderKey = prefix + Array("leader".utf8)
        self.viewKey = prefix + Array("view".utf8)
        self.logger = logger
        self.keepAliveTimeout = .nanoseconds(leaseTTL.nanoseconds / 3)
    }

    /// Calls `body` with the future's result as a task of its own on the driver's loop.
    private func deliver<T>(_ future: EventLoopFuture<T>, _ body: @escaping (Result<T, any Error>) -> Void) {
        let loop = self.loop
        let body = NIOLoopBound(body, eventLoop: loop)
        future.whenComplete { result in loop.execute { body.value(result) } }
    }

    private static func failure(_ error: any Error) -> ElectionStoreError {
        ElectionStoreError("\(error)")
    }

    func campaign(
        address: String, leaseSeconds: Int64,
        completion: @escaping (Result<CampaignOutcome, ElectionStoreError>) -> Void
    ) {
        let (client, leaderKey, viewKey) = (self.client, self.leaderKey, self.viewKey)
        let campaigned = client.grantLease(ttlSeconds: leaseSeconds).flatMap { lease in
            client.txn(
                compare: [.createRevision(key: leaderKey, equals: 0)],
                success: [.put(key: leaderKey, value: Array(address.utf8), lease: lease.id), .get(key: viewKey)],
                failure: [.get(key: leaderKey), .get(key: viewKey)]
            )
            .flatMapErrorThrowing { error in
                // The transaction may have landed: revoking the lease removes the key
                // it may have created.
                _ = client.revoke(lease: lease.id)
                throw error
            }
            .map { (lease, $0) }
        }
        deliver(campaigned) { result in
            completion(
                result.mapError(Self.failure).flatMap { lease, txn in
                    do {
                        if txn.succeeded {
                            let view = try Self.storedView(in: txn.results.last)
                            return .success(
                                .won(lease: lease.id, ttlSeconds: lease.ttlSeconds, token: txn.revision, view: view))
                        }
                        _ = client.revoke(lease: lease.id)
                        return .success(.lost(try Self.snapshot(txn)))
                    } catch {
                        _ = client.revoke(lease: lease.id)
                        return .failure(Self.failure(error))
                    }
                })
        }
    }

    func read(completion: @escaping (Result<ControlPlaneSnapshot, ElectionStoreError>) -> Void) {
        let read = client.txn(compare: [], success: [.get(key: leaderKey), .get(key: viewKey)], failure: [])
        deliver(read) { result in
            completion(
                result.mapError(Self.failure).flatMap { txn in Result { try Self.snapshot(txn) }.mapError(Self.failure)
                })
        }
    }

    func watch(
        fromRevision: Int64, onChanges: @escaping ([ControlPlaneChange], Int64) -> Void,
        onEnd: @escaping (ElectionStoreError) -> Void
    ) -> any ElectionStoreWatch {
        let loop = self.loop
        let (leaderKey, viewKey, logger) = (self.leaderKey, self.viewKey, self.logger)
        let onChanges = NIOLoopBound(onChanges, eventLoop: loop)
        let watch = client.watch(prefix: prefix, fromRevision: fromRevision) { events, revision in
            var changes: [ControlPlaneChange] = []
            for event in events {
                switch event {
                case .put(let kv) where kv.key == leaderKey:
                    changes.append(
                        .leaderSet(
                            LeaderRecord(
                                address: String(decoding: kv.value, as: UTF8.self), createRevision: kv.createRevision)))
                case .delete(let key, _) where key == leaderKey:
                    changes.append(.leaderGone)
                case .put(let kv) where kv.key == viewKey:
                    do {
                        changes.append(.viewSet(StoredView(view: try Self.parse(kv.value), revision: kv.modRevision)))
                    } catch {
                        logger.error(
                            "ignoring an invalid view written to etcd: \(error)", metadata: ["kv_event": "bad-input"])
                    }
                default:
                    break
                }
            }
            loop.execute { onChanges.value(changes, revision) }
        }
        let handle = EtcdElectionWatch(watch: watch)
        deliver(watch.ended) { result in
            guard !handle.cancelled else { return }
            switch result {
            case .success: onEnd(ElectionStoreError("the watch ended"))
            case .failure(let error): onEnd(Self.failure(error))
            }
        }
        return handle
    }

    func keepAlive(lease: Int64, completion: @escaping (Result<Bool, ElectionStoreError>) -> Void) {
        deliver(client.keepAlive(lease: lease, timeout: keepAliveTimeout)) { result in
            completion(result.map { $0 != nil }.mapError(Self.failure))
        }
    }

    func revoke(lease: Int64) {
        lastRevocation = client.revoke(lease: lease)
    }

    /// The last revocation sent (on the driver's loop): a stopping monitor waits for it
    /// before closing the client, so that another monitor can lead at once.
    private(set) var lastRevocation: EventLoopFuture<Void>?

    func write(
        _ view: View, token: Int64, expectedRevision: Int64,
        completion: @escaping (Result<Int64, ElectionStoreError>) -> Void
    ) {
        let written = client.txn(
            compare: [
                .createRevision(key: leaderKey, equals: token), .modRevision(key: viewKey, equals: expectedRevision),
            ],
            success: [.put(key: viewKey, value: Array(FileViewStore.render(view).utf8))], failure: [])
        deliver(written) { result in
            completion(
                result.mapError(Self.failure).flatMap { txn in
                    txn.succeeded
                        ? .success(txn.revision)
                        : .failure(
                            ElectionStoreError(
                                "refused by etcd: the leader key is no longer this leadership's, or the view was written by another"
                            ))
                })
        }
    }

    // MARK: - Reading answers

    private static func snapshot(_ txn: EtcdTxnResult) throws -> ControlPlaneSnapshot {
        guard txn.results.count == 2, case .get(let leaders) = txn.results[0] else {
            throw ElectionStoreError("etcd's answer lacks the leader key's read")
        }
        let leader = leaders.first.map {
            LeaderRecord(address: String(decoding: $0.value, as: UTF8.self), createRevision: $0.createRevision)
        }
        return ControlPlaneSnapshot(leader: leader, view: try storedView(in: txn.results[1]), revision: txn.revision)
    }

    private static func storedView(in result: EtcdOperationResult?) throws -> StoredView? {
        guard case .get(let kvs) = result else { throw ElectionStoreError("etcd's answer lacks the view's read") }
        guard let kv = kvs.first else { return nil }
        return StoredView(view: try parse(kv.value), revision: kv.modRevision)
    }

    /// A view in etcd that is not one is an error, never "no view": starting from view 0
    /// would let an empty server become primary.
    private static func parse(_ bytes: [UInt8]) throws -> View {
        try FileViewStore.parse(String(decoding: bytes, as: UTF8.self), path: "the view in etcd")
    }
}

/// A watch of the store that, once cancelled, reports nothing more.
private final class EtcdElectionWatch: ElectionStoreWatch, @unchecked Sendable {
    private let watch: EtcdWatch
    /// Read and written on the driver's loop only.
    private(set) var cancelled = false

    init(watch: EtcdWatch) {
        self.watch = watch
    }

    func cancel() {
        cancelled = true
        watch.cancel()
    }
}
