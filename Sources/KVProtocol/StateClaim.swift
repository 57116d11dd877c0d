/// What a restarted server holds, as it tells the monitor: the complete state of one view
/// as that view's primary, or as its synchronised backup (docs/DESIGN.md §3.12). A server
/// sends one only while it has recovered data from disk and has taken no role since, and
/// only when it is provably true (docs/STORAGE.md, "Claims").
public struct StateClaim: Equatable, Hashable, Sendable, CustomStringConvertible {
    public enum Role: UInt8, Sendable {
        case primary = 1
        case backup = 2
    }

    public var role: Role
    /// The view whose state it holds: its number and members, exactly as the monitor made it.
    public var viewnum: UInt64
    public var primary: String
    public var backup: String
    /// The view's cluster (`View.cluster`): a claim speaks for its own cluster only.
    public var cluster: UInt64

    public init(role: Role, viewnum: UInt64, primary: String, backup: String, cluster: UInt64 = 0) {
        self.role = role
        self.viewnum = viewnum
        self.primary = primary
        self.backup = backup
        self.cluster = cluster
    }

    public init(role: Role, view: View) {
        self.init(
            role: role, viewnum: view.viewnum, primary: view.primary, backup: view.backup, cluster: view.cluster)
    }

    /// The address the claim is made for: the view's primary or its backup.
    public var claimant: String { role == .primary ? primary : backup }

    public var description: String {
        "\(role == .primary ? "primary" : "backup") of view \(viewnum) (primary=\(primary.isEmpty ? "-" : primary) "
            + "backup=\(backup.isEmpty ? "-" : backup))"
            + (cluster == 0 ? "" : " of cluster \(ClusterID.text(cluster))")
    }
}
