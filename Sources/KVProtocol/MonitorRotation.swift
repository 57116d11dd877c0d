/// Which of several monitors to ask next (docs/DESIGN.md §4.2), for servers' pings and
/// clients' view requests alike: the one that last answered, until it fails; then the
/// next in the list; and the leader a follower names, when it is one of the list.
///
/// Pure state; the caller reports what each attempt brought.
public struct MonitorRotation: Sendable, Equatable {
    public let addresses: [String]
    public private(set) var index = 0

    public init(_ addresses: [String]) {
        precondition(!addresses.isEmpty, "at least one monitor")
        self.addresses = addresses
    }

    /// The monitor to ask now.
    public var current: String { addresses[index] }

    /// The current monitor did not answer (or answered with no leader to name): ask the
    /// next one.
    public mutating func failed() {
        index = (index + 1) % addresses.count
    }

    /// The current monitor answered "not the leader; the leader is `leader`". Follows the
    /// hint when it names a monitor of the list, else moves on as after a failure.
    public mutating func redirected(to leader: String) {
        if !leader.isEmpty, leader != current, let found = addresses.firstIndex(of: leader) {
            index = found
        } else {
            failed()
        }
    }
}
