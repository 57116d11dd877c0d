import KVProtocol

/// What this server has promised as a backup: not to act as primary before a time on its
/// own lease clock (docs/DESIGN.md §3.14).
///
/// Every forward it accepts grants the primary that sent it the lease the forward asks
/// for, counted from the moment of the answer; a forward asking for none gives back that
/// primary's grants (a planned hand-over). Grants to the primaries of earlier streams,
/// and the wait after the process starts, are only ever outlived.
struct LeaseGrants {
    /// The primary of the stream this server follows (or followed last) and the end of
    /// its grants.
    private(set) var current: (viewnum: UInt64, primary: String, until: UInt64)?
    /// The latest end of the grants to the primaries of earlier streams.
    private(set) var earlier: UInt64 = 0
    /// A process that starts may have granted leases before it stopped: it waits out the
    /// longest any primary may hold (`startedAt` + `Limits.maxReadLease`).
    let afterStart: UInt64

    /// Nil: no clock (tests of the core that do not concern leases).
    init(startedAt clock: UInt64?) {
        afterStart = clock.map { $0 + Limits.maxReadLease } ?? 0
    }

    /// The end of every promise: before it, this server does not act as primary.
    var until: UInt64 { max(afterStart, earlier, current?.until ?? 0) }

    /// The end of what covers a lease held by the primary of `viewnum`, `primary`: its own
    /// grants, and the wait after this process started.
    func promise(toPrimary primary: String, ofView viewnum: UInt64) -> UInt64 {
        guard let current, current.viewnum == viewnum, current.primary == primary else { return afterStart }
        return max(afterStart, current.until)
    }

    /// The primary of `viewnum`, `primary`, was answered at `clock` for a forward asking
    /// for `lease` (0: it gives its grants back).
    mutating func answered(viewnum: UInt64, primary: String, lease: UInt64, at clock: UInt64) {
        if let current, current.viewnum != viewnum || current.primary != primary {
            earlier = max(earlier, current.until)
            self.current = nil
        }
        guard lease > 0 else {
            current = (viewnum, primary, 0)
            return
        }
        current = (viewnum, primary, max(current?.until ?? 0, clock + lease))
    }

    /// The primary of `viewnum`, `primary`, gave its grants back after this server left
    /// its stream (a hand-over that reached it after the next view did).
    mutating func released(viewnum: UInt64, primary: String) {
        guard let current, current.viewnum == viewnum, current.primary == primary else { return }
        self.current = (viewnum, primary, 0)
    }
}

/// The lease an acceptance grants, with whom it is granted to.
struct LeaseGrant {
    let viewnum: UInt64
    let primary: String
    let lease: UInt64
}
