/// A monitor's answer to `monitorInfo`: what part it plays in the view service and the
/// view it holds (docs/DESIGN.md §2.10).
public struct MonitorStatus: Equatable, Sendable {
    public enum Role: UInt8, Sendable, CustomStringConvertible {
        /// The only monitor (a view file, or memory): it decides every view.
        case sole = 1
        /// The elected monitor of several sharing one view in etcd: it decides views.
        case leader = 2
        /// One of several monitors, not elected: it answers view requests from the view
        /// it last read and sends servers to the leader.
        case follower = 3

        public var description: String {
            switch self {
            case .sole: "sole"
            case .leader: "leader"
            case .follower: "follower"
            }
        }
    }

    public var role: Role
    /// The leader's address as this monitor knows it; empty when it knows none (no
    /// leader, or etcd unreachable). A leader names itself.
    public var leader: String
    /// The view this monitor holds: in force (sole, leader) or last read (follower).
    public var view: View
    /// Whether the monitor's store answers: etcd for several monitors (false while etcd
    /// is unreachable or without quorum), the view file for a sole monitor (false after a
    /// failed save).
    public var storeReachable: Bool
    /// Why nothing is served, while the monitor waits for a member of the view to come
    /// back with its data (docs/DESIGN.md §3.12); empty otherwise.
    public var waitingFor: String

    public init(role: Role, leader: String, view: View, storeReachable: Bool, waitingFor: String = "") {
        self.role = role
        self.leader = leader
        self.view = view
        self.storeReachable = storeReachable
        self.waitingFor = waitingFor
    }

    /// Whether this monitor decides views now.
    public var decides: Bool { role != .follower }
}
