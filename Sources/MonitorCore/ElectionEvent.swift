import KVProtocol

/// What a `MonitorElection` is told: the completions of the store requests it asked for,
/// the watch's reports, and the passing of time (docs/DESIGN.md §2.10).
public enum ElectionEvent: Equatable, Sendable {
    /// Time passes (the monitor's tick, and every request while leading).
    case clock
    case campaigned(CampaignOutcome)
    case campaignFailed(String)
    case read(ControlPlaneSnapshot)
    case readFailed(String)
    /// Changes the watch saw, up to `revision`.
    case watched([ControlPlaneChange], revision: Int64)
    case watchEnded(String)
    /// A keep-alive of `lease` was answered: `alive` false means the lease is gone.
    case keepAliveAnswered(lease: Int64, alive: Bool)
    case keepAliveFailed(lease: Int64, error: String)
    /// A fenced write of the view landed at `revision`.
    case viewWritten(View, revision: Int64)
    /// A fenced write was refused (someone else leads or wrote), or its outcome is
    /// unknown (etcd did not answer).
    case viewWriteFailed(View, error: String)
}

/// What a `MonitorElection` asks its driver to do.
public enum ElectionEffect: Equatable, Sendable {
    /// Grant a lease of `seconds`, then in one transaction create the leader key on it
    /// if the key is absent and read the view (else read both): `.campaigned`, or
    /// `.campaignFailed`. A lost campaign's lease is revoked by whoever ran it.
    case campaign(leaseSeconds: Int64)
    /// Read the leader key and the view: `.read` or `.readFailed`.
    case read
    /// (Re)start the one watch of the cluster's keys from `fromRevision`; a watch
    /// replaced reports nothing more.
    case watch(fromRevision: Int64)
    case keepAlive(lease: Int64)
    /// Best effort, nothing reported: a lease not revoked expires by itself.
    case revoke(lease: Int64)
    /// Write `view` only if the leader key is still the one created at `token` and the
    /// view's last write is still `expectedRevision` (0: no view yet).
    case writeView(View, token: Int64, expectedRevision: Int64)
    /// This monitor now decides views, starting from `view`.
    case lead(View)
    /// This monitor no longer decides anything; every request waiting on its decisions
    /// is sent to the leader.
    case stopLeading
    case notice(ElectionNotice)
}

public enum ElectionNotice: Equatable, Sendable {
    case becameLeader(token: Int64, view: View)
    case steppedDown(reason: String)
    /// The view from the state file was written to etcd, which had none or an older one.
    case viewImported(View)
    /// Another monitor leads (or the leader key names this monitor's previous run).
    case following(leader: String)
    /// etcd stopped answering (or lost its quorum): no view can change.
    case storeUnavailable(String)
    case storeAvailable
}
