/// Whether a peer this server must reach answers: its monitor, or (as primary) its
/// backup. Judged from the requests it sends anyway (pings, forwards, chunks): trouble
/// begins once a request has failed and none has been answered for `threshold` (a few
/// ping intervals), and ends at the next answer. A peer nothing is sent to is never in
/// trouble. Pure: time passed in, reports returned.
struct PeerReachability {
    enum Report: Equatable {
        /// No answer since `for` nanoseconds; `reason` is the last failure.
        case unreachable(for: UInt64, reason: String)
        /// The same, again (at most every `remindEvery`).
        case stillUnreachable(for: UInt64, reason: String)
        /// Answered again after `after` nanoseconds.
        case reachable(after: UInt64)
    }

    let threshold: UInt64
    let remindEvery: UInt64
    private var lastAnswerAt: UInt64
    /// The last failure since the last answer, if any.
    private var failure: String?
    /// When trouble was last reported (nil: no trouble).
    private var reportedAt: UInt64?

    init(threshold: UInt64, remindEvery: UInt64, now: UInt64) {
        self.threshold = threshold
        self.remindEvery = remindEvery
        lastAnswerAt = now
    }

    /// Why the peer is in trouble, for a status line; nil while it is not.
    var trouble: String? { reportedAt == nil ? nil : failure }

    var isInTrouble: Bool { reportedAt != nil }

    mutating func answered(at now: UInt64) -> Report? {
        defer {
            lastAnswerAt = now
            failure = nil
            reportedAt = nil
        }
        return reportedAt == nil ? nil : .reachable(after: now &- lastAnswerAt)
    }

    mutating func failed(_ reason: String, at now: UInt64) {
        failure = reason
    }

    /// A new peer (another backup, or none): what was true of the old one says nothing.
    mutating func reset(at now: UInt64) {
        lastAnswerAt = now
        failure = nil
        reportedAt = nil
    }

    /// At each tick.
    mutating func check(at now: UInt64) -> Report? {
        guard let failure, now &- lastAnswerAt >= threshold else { return nil }
        let silent = now &- lastAnswerAt
        guard let reportedAt else {
            self.reportedAt = now
            return .unreachable(for: silent, reason: failure)
        }
        guard now &- reportedAt >= remindEvery else { return nil }
        self.reportedAt = now
        return .stillUnreachable(for: silent, reason: failure)
    }
}
