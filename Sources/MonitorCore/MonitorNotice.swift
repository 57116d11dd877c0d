import KVProtocol

/// What happened inside the monitor, worth a log record or a report.
public enum MonitorNotice: Equatable, Sendable {
    /// A new view was saved and is now handed out.
    case viewChanged(from: View, to: View, reason: ViewChangeReason)
    /// The primary's acknowledgement of the current view was saved.
    case viewAcknowledged(View)
    /// A view could not be saved; the one in force stays, and the change is tried again
    /// by the next ping or tick that calls for it.
    case persistFailed(wanted: View, error: String)
    /// A server pinged for the first time (since the monitor started).
    case serverJoined(address: String)
    /// A server missed `deadPings` pings.
    case serverDied(address: String)
    /// The primary or backup pinged with view number 0: it restarted and lost its state.
    case serverRestarted(address: String, role: ServerInfo.Role)
    /// A server announced that it is shutting down (graceful leave).
    case serverLeaving(address: String, role: ServerInfo.Role)
    /// An admin's switchover request was refused (or must be retried).
    case switchoverRefused(SwitchoverRefusal)
    /// The view's primary is down and its backup cannot be promoted, and no restarted
    /// member proves it holds every acknowledged update: nothing is served until one does
    /// (or an operator accepts the loss). Logged when the reason changes.
    case waitingForRevival(view: View, reason: String)
    /// An operator's `kvctl revive` was refused.
    case reviveRefused(address: String, reason: String)
    /// A server pinged with a claim of another cluster than `cluster` (0: none founded
    /// yet): it gets no role until the operator revives it or clears its data.
    case foreignData(address: String, claim: StateClaim, cluster: UInt64)
}

public enum ViewChangeReason: String, Sendable {
    case firstPrimary = "first primary"
    case primaryFailed = "primary failed, backup promoted"
    case backupFailed = "backup failed, replaced"
    case backupAdded = "idle server became backup"
    case primaryLeft = "primary leaving, backup promoted"
    case backupLeft = "backup leaving, replaced"
    case switchover = "switchover requested, backup promoted"
    case revived = "restarted server revived with its data"
    case operatorRevival = "revived by the operator, accepting data loss"
}

/// Why the monitor would not hand the primary role over on request.
public enum SwitchoverRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case noPrimary
    /// The view is no longer the one the request was made for.
    case viewChanged(View)
    /// The primary has not acknowledged the current view: its backup may not yet hold
    /// the whole state. Transient; retry.
    case notAcknowledged(View)
    case noBackup
    /// The backup missed pings, restarted or is leaving.
    case backupUnavailable(address: String, reason: String)
    /// The backup has not pinged in this view lately (or not since the monitor started):
    /// it may have just died. Transient; retry.
    case backupUnconfirmed(address: String)
    /// The new view could not be saved; the old one stays.
    case notSaved(String)
    /// Another view change is being saved. Transient; retry.
    case saveInProgress

    public var description: String {
        switch self {
        case .noPrimary: "no primary yet"
        case .viewChanged(let view): "the view changed (now \(view))"
        case .notAcknowledged(let view): "view \(view.viewnum) is not yet acknowledged by its primary"
        case .noBackup: "the view has no backup to hand over to"
        case .backupUnavailable(let address, let reason): "backup \(address) \(reason)"
        case .backupUnconfirmed(let address): "backup \(address) has not pinged in this view lately"
        case .notSaved(let error): "the new view could not be saved: \(error)"
        case .saveInProgress: "another view change is being saved"
        }
    }

    /// Whether waiting may make the hand-over possible.
    public var isTransient: Bool {
        switch self {
        case .notAcknowledged, .backupUnconfirmed, .notSaved, .saveInProgress: true
        case .noPrimary, .viewChanged, .noBackup, .backupUnavailable: false
        }
    }
}
