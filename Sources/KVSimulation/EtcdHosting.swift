import KVProtocol
import MonitorCore
import NodeDriver

/// A watch of the simulated etcd, held by one monitor incarnation.
final class SimulatedEtcdWatch: ElectionStoreWatch {
    enum State {
        case active
        /// Its connection hangs: it reports nothing more, and never ends by itself (the
        /// follower's periodic read is what notices).
        case silent
        case ended
    }

    unowned let monitor: SimulatedMonitor
    let incarnation: UInt64
    var state = State.active
    /// Reports reach the monitor in order.
    var lastDelivery: UInt64 = 0
    let onChanges: ([ControlPlaneChange], Int64) -> Void
    let onEnd: (ElectionStoreError) -> Void

    init(
        monitor: SimulatedMonitor, incarnation: UInt64, onChanges: @escaping ([ControlPlaneChange], Int64) -> Void,
        onEnd: @escaping (ElectionStoreError) -> Void
    ) {
        self.monitor = monitor
        self.incarnation = incarnation
        self.onChanges = onChanges
        self.onEnd = onEnd
    }

    var isCurrent: Bool { monitor.isUp && monitor.incarnation == incarnation }

    func cancel() {
        state = .ended
    }
}

/// etcd's side of schedules with several monitors: request delays, watches, and the
/// faults only etcd has (a monitor cut off from it, lost quorum, a change of etcd's own
/// leader, which renews every lease).
extension Simulation {
    /// Whether requests from `monitor` reach etcd and its answers come back.
    func reachesEtcd(_ monitor: SimulatedMonitor) -> Bool {
        (etcdCutOffs[monitor.node] ?? 0) == 0
    }

    /// One way between a monitor and etcd: a millisecond or so, now and then much more
    /// (a slow disk under etcd, a retransmission), so requests of one monitor overtake
    /// each other and a write can land after its leadership ended on the sender's clock.
    func etcdDelay() -> UInt64 {
        random.chance(permille: 30) ? random.between(100_000, 1_200_000) : random.between(200, 3_000)
    }

    func startEtcdWatch(
        monitor: SimulatedMonitor, incarnation: UInt64, fromRevision: Int64,
        onChanges: @escaping ([ControlPlaneChange], Int64) -> Void, onEnd: @escaping (ElectionStoreError) -> Void
    ) -> SimulatedEtcdWatch {
        let watch = SimulatedEtcdWatch(monitor: monitor, incarnation: incarnation, onChanges: onChanges, onEnd: onEnd)
        etcdWatches.append(watch)
        guard reachesEtcd(monitor), etcd!.hasQuorum else {
            end(watch, "etcd cannot be reached")
            return watch
        }
        let missed = etcd!.changes.filter { $0.revision >= fromRevision }
        if !missed.isEmpty { deliver(missed.map(\.change), revision: missed.last!.revision, to: watch) }
        return watch
    }

    /// Every change etcd makes goes to every watch that can hear it.
    func etcdChanged(_ revision: Int64, _ change: ControlPlaneChange) {
        etcdWatches.removeAll { $0.state == .ended || !$0.isCurrent }
        for watch in etcdWatches where watch.state == .active { deliver([change], revision: revision, to: watch) }
    }

    private func deliver(_ changes: [ControlPlaneChange], revision: Int64, to watch: SimulatedEtcdWatch) {
        let at = max(watch.lastDelivery, now + etcdDelay())
        watch.lastDelivery = at
        _ = scheduleTimer(at: at, owner: { watch.isCurrent }) { [self] in
            guard watch.state == .active else { return }
            watch.onChanges(changes, revision)
            checkMonitorNotices()
        }
    }

    private func end(_ watch: SimulatedEtcdWatch, _ why: String) {
        guard watch.state != .ended else { return }
        watch.state = .ended
        let at = max(watch.lastDelivery, now + random.between(1_000, 1_000_000))
        _ = scheduleTimer(at: at, owner: { watch.isCurrent }) { [self] in
            watch.onEnd(ElectionStoreError(why))
            checkMonitorNotices()
        }
    }

    /// Cuts `monitor` off from etcd (not from servers or clients) for a while. Its
    /// watches end, or hang silently, as a broken connection may do either.
    func cutOffFromEtcd(_ monitor: SimulatedMonitor) {
        etcdCutOffs[monitor.node, default: 0] += 1
        trace.record(now, .note("\(monitor.address) cut off from etcd"))
        for watch in etcdWatches where watch.monitor === monitor && watch.state == .active {
            if random.chance(permille: 500) {
                end(watch, "the connection to etcd broke")
            } else {
                watch.state = .silent
            }
        }
        queue.schedule(.etcdReachable(monitor: monitor.node), at: now + random.between(200_000, 4_000_000))
    }

    func reconnectToEtcd(_ node: Int) {
        guard let count = etcdCutOffs[node] else { return }
        etcdCutOffs[node] = count > 1 ? count - 1 : nil
        trace.record(now, .note("\(names[node]) reaches etcd again"))
    }

    /// etcd loses its quorum for a while: nothing takes effect, and every watch ends
    /// (the monitors ask for a leader's presence).
    func loseEtcdQuorum() {
        guard etcd!.hasQuorum else { return }
        etcd!.hasQuorum = false
        trace.record(now, .note("etcd loses its quorum"))
        for watch in etcdWatches where watch.state != .ended { end(watch, "etcd has no leader") }
        queue.schedule(.etcdQuorumBack, at: now + random.between(300_000, 3_000_000))
    }

    func regainEtcdQuorum() {
        guard !etcd!.hasQuorum else { return }
        etcd!.hasQuorum = true
        // Leases were frozen meanwhile: a new etcd leader renews them all.
        etcd!.leaderChanged(at: now)
        trace.record(now, .note("etcd has its quorum again (leases renewed)"))
    }

    func changeEtcdLeader() {
        etcd!.leaderChanged(at: now)
        trace.record(now, .note("etcd's leader changes: every lease renewed to its full TTL"))
    }

    /// etcd checks for expired leases about twice a second.
    func startEtcdExpiry() {
        _ = scheduleTimer(at: now + 500_000, every: 500_000, owner: { true }) { [self] in
            if etcd!.hasQuorum { etcd!.expire(at: now) }
            checkMonitorNotices()
        }
    }
}
