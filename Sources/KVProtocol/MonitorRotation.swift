/// Which of several monitors to ask next (docs/DESIGN.md §4.3), for servers' pings and
/// clients' view requests alike: the one that last answered, until it fails; then the
/// next in the list; and the leader a follower names, when it is one of the list.
///
/// Misses (a failure, or a follower's redirection) are counted in passes: within a pass
/// each monitor is asked at most once, so a hint that points back at a monitor already
/// tried, or two followers naming each other, cannot make a loop, and a stale hint
/// cannot keep the monitors after its target from being tried. A pass ends when every
/// monitor has missed since the last answer; the caller decides what that costs (a
/// client pauses one retry interval, a server waits for its next tick anyway).
///
/// Pure state; the caller reports what each attempt brought.
public struct MonitorRotation: Sendable, Equatable {
    public let addresses: [String]
    public private(set) var index = 0
    /// The monitors that missed in the pass under way (since the last answer).
    private var missed: [Bool]

    public init(_ addresses: [String]) {
        precondition(!addresses.isEmpty, "at least one monitor")
        self.addresses = addresses
        self.missed = Array(repeating: false, count: addresses.count)
    }

    /// The monitor to ask now.
    public var current: String { addresses[index] }

    /// The current monitor answered (a view, a listing): it stays current, and a new pass
    /// begins.
    public mutating func answered() {
        for position in missed.indices { missed[position] = false }
    }

    /// The current monitor did not answer (or answered with no leader to name): ask the
    /// next one not yet tried in this pass. Returns true when this miss ends the pass:
    /// every monitor has missed since the last answer, and the next one asked (the one
    /// after the current in the list) begins a new pass.
    @discardableResult
    public mutating func failed() -> Bool {
        missed[index] = true
        let count = addresses.count
        for step in 1...count {
            let candidate = (index + step) % count
            if !missed[candidate] {
                index = candidate
                return false
            }
        }
        answered()
        index = (index + 1) % count
        return true
    }

    /// The current monitor answered "not the leader; the leader is `leader`". Follows the
    /// hint when it names another monitor of the list not yet tried in this pass, else
    /// moves on as after a failure. Returns true when this miss ends the pass (as
    /// `failed`).
    @discardableResult
    public mutating func redirected(to leader: String) -> Bool {
        guard follows(leader), let found = addresses.firstIndex(of: leader) else { return failed() }
        missed[index] = true
        index = found
        return false
    }

    /// Whether `redirected(to: leader)` would follow the hint: it names another monitor
    /// of the list, not yet tried in this pass.
    public func follows(_ leader: String) -> Bool {
        guard !leader.isEmpty, leader != current, let found = addresses.firstIndex(of: leader) else { return false }
        return !missed[found]
    }
}
