/// A primary's read lease from its backup: until when, on its lease clock, no other server
/// can act as primary, so that a Get of a settled key is answered without a round trip
/// (docs/DESIGN.md §3.14).
enum ReadLease: Equatable {
    /// None held: every Get waits for the backup.
    case none
    /// Held until this time on the lease clock.
    case held(until: UInt64)
    /// Given back (a planned hand-over, a leave): no acknowledgement extends it again
    /// until the next view.
    case givenBack

    func holds(at clock: UInt64) -> Bool {
        if case .held(let until) = self { return clock < until }
        return false
    }

    /// An acknowledgement of a batch that left at `sentAt` extends the lease by
    /// `duration` from then.
    mutating func extend(sentAt: UInt64, by duration: UInt64) {
        guard duration > 0 else { return }
        switch self {
        case .givenBack:
            return
        case .none:
            self = .held(until: sentAt + duration)
        case .held(let until):
            self = .held(until: max(until, sentAt + duration))
        }
    }
}
