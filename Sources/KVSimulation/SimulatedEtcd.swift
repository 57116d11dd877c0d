import KVProtocol
import MonitorCore

/// etcd as the monitors see it (docs/DESIGN.md §2.10): a linearizable store of the
/// leader key and the view, with leases that expire on the simulated clock. Each request
/// takes effect at one instant (when it reaches etcd), which is what etcd's Raft gives.
///
/// Like etcd, it renews every lease to its full TTL when its own leader changes
/// (`leaderChanged`): a lease may outlive its TTL, so a monitor's own clock must end its
/// leadership, never the key's disappearance.
final class SimulatedEtcd {
    private(set) var revision: Int64 = 1
    private(set) var leader: (record: LeaderRecord, lease: Int64)?
    private(set) var view: StoredView?
    /// Every view ever written, in order.
    private(set) var history: [View] = []
    /// The token of the leadership that wrote each view of `history`.
    private(set) var writers: [Int64] = []
    /// Every change, with its revision: a watch starting at a revision gets the changes
    /// from there on.
    private(set) var changes: [(revision: Int64, change: ControlPlaneChange)] = []
    private var leases: [Int64: (ttl: UInt64, expiresAt: UInt64)] = [:]
    private var nextLease: Int64 = 1_000
    /// Without quorum no request takes effect (they time out).
    var hasQuorum = true
    /// Called for each change as it happens.
    var changed: ((Int64, ControlPlaneChange) -> Void)?

    /// Expires leases whose time is up, and the leader key with its lease.
    func expire(at now: UInt64) {
        for (id, lease) in leases where lease.expiresAt <= now {
            leases[id] = nil
            if leader?.lease == id { deleteLeader() }
        }
    }

    private func record(_ change: ControlPlaneChange) {
        changes.append((revision, change))
        changed?(revision, change)
    }

    private func deleteLeader() {
        leader = nil
        revision += 1
        record(.leaderGone)
    }

    func campaign(address: String, leaseSeconds: Int64, at now: UInt64) -> CampaignOutcome {
        expire(at: now)
        let lease = nextLease
        nextLease += 1
        let ttl = UInt64(max(leaseSeconds, 2)) * 1_000_000
        leases[lease] = (ttl, now + ttl)
        guard leader == nil else {
            leases[lease] = nil
            return .lost(snapshot)
        }
        revision += 1
        let record = LeaderRecord(address: address, createRevision: revision)
        leader = (record, lease)
        self.record(.leaderSet(record))
        return .won(lease: lease, ttlSeconds: Int64(ttl / 1_000_000), token: revision, view: view)
    }

    var snapshot: ControlPlaneSnapshot {
        ControlPlaneSnapshot(leader: leader?.record, view: view, revision: revision)
    }

    func read(at now: UInt64) -> ControlPlaneSnapshot {
        expire(at: now)
        return snapshot
    }

    /// Whether the lease is still alive (and now renewed).
    func keepAlive(lease: Int64, at now: UInt64) -> Bool {
        expire(at: now)
        guard let current = leases[lease] else { return false }
        leases[lease] = (current.ttl, now + current.ttl)
        return true
    }

    func revoke(lease: Int64, at now: UInt64) {
        expire(at: now)
        guard leases.removeValue(forKey: lease) != nil else { return }
        if leader?.lease == lease { deleteLeader() }
    }

    /// The revision of the write, or nil when its conditions fail.
    func write(_ view: View, token: Int64, expectedRevision: Int64, at now: UInt64) -> Int64? {
        expire(at: now)
        guard leader?.record.createRevision == token, (self.view?.revision ?? 0) == expectedRevision else {
            return nil
        }
        revision += 1
        let stored = StoredView(view: view, revision: revision)
        self.view = stored
        history.append(view)
        writers.append(token)
        record(.viewSet(stored))
        return revision
    }

    /// When `lease` runs out as things stand (it may be renewed), nil once it is gone.
    func expiry(of lease: Int64) -> UInt64? {
        leases[lease]?.expiresAt
    }

    /// etcd's own leader changed: every lease starts its TTL again.
    func leaderChanged(at now: UInt64) {
        expire(at: now)
        for (id, lease) in leases { leases[id] = (lease.ttl, now + lease.ttl) }
    }

    /// The primary etcd's views named for view `viewnum`.
    func primary(of viewnum: UInt64) -> String? {
        history.last { $0.viewnum == viewnum }?.primary
    }
}
