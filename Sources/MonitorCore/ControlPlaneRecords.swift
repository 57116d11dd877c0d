import KVProtocol

/// The view as etcd holds it: the view and the revision of its last write (the key's
/// mod_revision), which the next write is conditioned on (docs/DESIGN.md §2.10).
public struct StoredView: Equatable, Sendable {
    public var view: View
    public var revision: Int64

    public init(view: View, revision: Int64) {
        self.view = view
        self.revision = revision
    }
}

/// The leader key: who leads, and the key's create_revision, which is that leadership's
/// fencing token (no two leaderships share one, and a key re-created has a new one).
public struct LeaderRecord: Equatable, Sendable {
    public var address: String
    public var createRevision: Int64

    public init(address: String, createRevision: Int64) {
        self.address = address
        self.createRevision = createRevision
    }
}

/// What one read of a cluster's keys found, at one etcd revision.
public struct ControlPlaneSnapshot: Equatable, Sendable {
    public var leader: LeaderRecord?
    public var view: StoredView?
    /// The store's revision when read: a watch from `revision + 1` misses nothing.
    public var revision: Int64

    public init(leader: LeaderRecord?, view: StoredView?, revision: Int64) {
        self.leader = leader
        self.view = view
        self.revision = revision
    }
}

/// One change a watch reports.
public enum ControlPlaneChange: Equatable, Sendable {
    case leaderSet(LeaderRecord)
    case leaderGone
    case viewSet(StoredView)
}

/// How a campaign ended.
public enum CampaignOutcome: Equatable, Sendable {
    /// The leader key was absent and is now this monitor's, on `lease`, created at
    /// revision `token`; `view` is what the same transaction read.
    case won(lease: Int64, ttlSeconds: Int64, token: Int64, view: StoredView?)
    /// Someone holds the leader key; nothing was written.
    case lost(ControlPlaneSnapshot)
}
