import KVProtocol

/// What a server does in the view it knows, with the state that belongs to that duty.
/// It changes with every new view (`ServerCore.observe`), and within a view only as
/// `PrimaryPhase` says.
enum Duty: Equatable {
    /// No role in the view (or no view yet).
    case idle
    /// Backup of the view, with what it has received from the view's primary (nil until
    /// the first chunk of a transfer arrives).
    case backup(IncomingStream?)
    /// Primary of the view.
    case primary(PrimaryPhase)
}

/// Where a primary stands in its view (docs/DESIGN.md §3.6).
enum PrimaryPhase: Equatable {
    /// Primary of view 1 of a new cluster: holds requests until the monitor confirms the
    /// acknowledgement, so that a restart before then cannot look like a new cluster.
    case awaitingFirstAck
    /// Named primary while a lease it granted as backup may still be held by the
    /// primary before it: defers requests, and does not acknowledge the view, until every
    /// grant has run out or was given back (docs/DESIGN.md §3.14).
    case waitingOutLease
    /// Serves clients, replicating every request to the backup (`PrimaryPipeline`).
    case serving
    /// Its backup refused it: a newer view has begun. It still holds the current state,
    /// but answers nothing until the monitor names a view.
    case fenced
    /// Named primary without holding the view's state (restarted, or dropped from a view
    /// earlier): refuses, and pings 0 so that the monitor promotes the backup.
    case refusing
}

/// What the store holds, as far as serving goes.
enum DataState: Equatable {
    /// Just started: nothing stored, never primary with the current state.
    case empty
    /// The state of the view it is primary of (serving or fenced).
    case current
    /// Was primary with the current state, then lost the role: what it holds may be behind.
    /// Also data read back from disk that proves no claim.
    case stale
    /// The complete state of the claim's view, and no role taken up since: read back from
    /// the data directory at start, or kept by a primary of that view that became backup
    /// of the next one (until a transfer replaces its store). Its pings carry the claim,
    /// and the monitor may name it primary of a later view (docs/DESIGN.md §3.12); a
    /// switchover to a backup that crashed at once is undone that way.
    case claimed(StateClaim)
    /// An operator accepted what the server holds as the state to serve, whatever it
    /// lacks (`kvctl revive --accept-data-loss`): it takes the next view naming it primary.
    /// It keeps the claim it recovered, if any, so that the monitor may still revive it
    /// from that claim, losing nothing, before the operator's view is made.
    case adopted(StateClaim?)
}

extension DataState {
    var isAdopted: Bool {
        if case .adopted = self { return true }
        return false
    }
}
