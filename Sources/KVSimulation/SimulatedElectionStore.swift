import KVProtocol
import MonitorCore
import NodeDriver

/// One monitor incarnation's way to the simulated etcd: each request reaches etcd after
/// a delay and takes effect there (even if the monitor dies meanwhile), and its answer
/// comes back after another; a monitor cut off from etcd, or an etcd without quorum,
/// gets no answer and fails at the request's timeout, whether or not the request took
/// effect.
final class SimulatedElectionStore: ElectionStore {
    unowned let simulation: Simulation
    unowned let monitor: SimulatedMonitor
    let incarnation: UInt64
    /// Microseconds a request waits for its answer.
    static let timeout: UInt64 = 1_000_000

    init(simulation: Simulation, monitor: SimulatedMonitor, incarnation: UInt64) {
        self.simulation = simulation
        self.monitor = monitor
        self.incarnation = incarnation
    }

    private var isCurrent: Bool { monitor.isUp && monitor.incarnation == incarnation }

    private var etcd: SimulatedEtcd { simulation.etcd! }

    /// Runs `apply` at etcd when the request gets there (even after the sender gave up
    /// waiting, unless `landsAfterTimeout` is false), and calls `completion` with its
    /// result when the answer gets back in time, or with a failure at the timeout.
    private func request<T>(
        _ what: String, timeout: UInt64 = SimulatedElectionStore.timeout, landsAfterTimeout: Bool = true,
        _ apply: @escaping () -> T, completion: @escaping (Result<T, ElectionStoreError>) -> Void
    ) {
        let sentAt = simulation.now
        let failAt = sentAt + timeout
        let owner = { [self] in isCurrent }
        var answered = false
        _ = simulation.scheduleTimer(at: failAt, owner: owner) {
            guard !answered else { return }
            answered = true
            completion(.failure(ElectionStoreError("etcd did not answer \(what) in time")))
        }
        guard simulation.reachesEtcd(monitor) else { return }
        let there = sentAt + simulation.etcdDelay()
        // Takes effect even if the monitor dies meanwhile: the request is on its way.
        _ = simulation.scheduleTimer(at: there, owner: { true }) { [self] in
            guard simulation.reachesEtcd(monitor), etcd.hasQuorum, landsAfterTimeout || !answered else { return }
            let result = apply()
            let back = simulation.now + simulation.etcdDelay()
            guard back < failAt else { return }
            _ = simulation.scheduleTimer(at: back, owner: owner) { [self] in
                guard !answered, simulation.reachesEtcd(monitor) else { return }
                answered = true
                completion(.success(result))
            }
        }
    }

    func campaign(
        address: String, leaseSeconds: Int64,
        completion: @escaping (Result<CampaignOutcome, ElectionStoreError>) -> Void
    ) {
        var applied: CampaignOutcome?
        // The daemon's store revokes the lease of a campaign that timed out, so a
        // transaction landing later puts nothing (its lease is gone): one that lands
        // after the timeout does nothing here.
        request(
            "a campaign", landsAfterTimeout: false,
            { [self] in
                let outcome = etcd.campaign(address: address, leaseSeconds: leaseSeconds, at: simulation.now)
                applied = outcome
                return outcome
            }
        ) { [self] result in
            // A campaign whose answer was lost may have won: its lease is revoked, as the
            // daemon's store does, so that the key it created goes.
            if case .failure = result, case .won(let lease, _, _, _)? = applied { revoke(lease: lease) }
            completion(result)
        }
    }

    func read(completion: @escaping (Result<ControlPlaneSnapshot, ElectionStoreError>) -> Void) {
        request("a read", { [self] in etcd.read(at: simulation.now) }, completion: completion)
    }

    func watch(
        fromRevision: Int64, onChanges: @escaping ([ControlPlaneChange], Int64) -> Void,
        onEnd: @escaping (ElectionStoreError) -> Void
    ) -> any ElectionStoreWatch {
        simulation.startEtcdWatch(
            monitor: monitor, incarnation: incarnation, fromRevision: fromRevision, onChanges: onChanges, onEnd: onEnd)
    }

    func keepAlive(lease: Int64, completion: @escaping (Result<Bool, ElectionStoreError>) -> Void) {
        request(
            "a keep-alive", timeout: Self.timeout, { [self] in etcd.keepAlive(lease: lease, at: simulation.now) },
            completion: completion)
    }

    func revoke(lease: Int64) {
        request("a revocation", { [self] in etcd.revoke(lease: lease, at: simulation.now) }) { _ in }
    }

    func write(
        _ view: View, token: Int64, expectedRevision: Int64,
        completion: @escaping (Result<Int64, ElectionStoreError>) -> Void
    ) {
        request(
            "a view write",
            { [self] in etcd.write(view, token: token, expectedRevision: expectedRevision, at: simulation.now) }
        ) { result in
            completion(
                result.flatMap { revision in
                    revision.map { .success($0) }
                        ?? .failure(ElectionStoreError("refused: the leader key or the view changed"))
                })
        }
    }
}
