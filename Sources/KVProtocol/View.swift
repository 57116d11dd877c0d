/// A numbered assignment of the primary and backup roles, as the monitor hands it out.
///
/// An empty string means "no server". `acked` says whether the primary has confirmed
/// this view by pinging with its number; the monitor moves on from an unacknowledged
/// view only to replace a dead backup.
public struct View: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var viewnum: UInt64
    public var primary: String
    public var backup: String
    public var acked: Bool
    /// The cluster the view belongs to: a random number the monitor draws when it makes
    /// view 1, carried by every later view. 0: not named (a view saved by a version
    /// without cluster ids, until the monitor next changes it). Claims name it, so a data
    /// directory of another cluster never passes for this one's (docs/DESIGN.md §3.12).
    public var cluster: UInt64

    public init(viewnum: UInt64, primary: String, backup: String, acked: Bool = false, cluster: UInt64 = 0) {
        self.viewnum = viewnum
        self.primary = primary
        self.backup = backup
        self.acked = acked
        self.cluster = cluster
    }

    /// The view as told to a peer that predates cluster ids: its decoder refuses the
    /// field.
    public var withoutCluster: View {
        var view = self
        view.cluster = 0
        return view
    }

    /// The view before any server has pinged.
    public static let initial = View(viewnum: 0, primary: "", backup: "", acked: false)

    public var description: String {
        "view \(viewnum) primary=\(primary.isEmpty ? "-" : primary) backup=\(backup.isEmpty ? "-" : backup)"
            + (acked ? " acked" : " unacked")
    }
}
