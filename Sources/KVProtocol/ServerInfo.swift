/// What the monitor knows about one server that has pinged it.
public struct ServerInfo: Equatable, Sendable {
    public enum Role: UInt8, Sendable, CustomStringConvertible {
        case primary = 1
        case backup = 2
        case idle = 3

        public var description: String {
            switch self {
            case .primary: "primary"
            case .backup: "backup"
            case .idle: "idle"
            }
        }
    }

    public var address: String
    public var role: Role
    /// Milliseconds since its last ping, by the monitor's clock.
    public var lastPingAgeMillis: UInt64
    /// The view number it sent in its last ping (0: it has just started).
    public var viewnum: UInt64
    /// Whether the monitor counts it as live (pinged within the dead interval).
    public var alive: Bool

    public init(address: String, role: Role, lastPingAgeMillis: UInt64, viewnum: UInt64, alive: Bool) {
        self.address = address
        self.role = role
        self.lastPingAgeMillis = lastPingAgeMillis
        self.viewnum = viewnum
        self.alive = alive
    }
}
