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

    public init(viewnum: UInt64, primary: String, backup: String, acked: Bool = false) {
        self.viewnum = viewnum
        self.primary = primary
        self.backup = backup
        self.acked = acked
    }

    /// The view before any server has pinged.
    public static let initial = View(viewnum: 0, primary: "", backup: "", acked: false)

    public var description: String {
        "view \(viewnum) primary=\(primary.isEmpty ? "-" : primary) backup=\(backup.isEmpty ? "-" : backup)"
            + (acked ? " acked" : " unacked")
    }
}
