import CSystemd

/// Tells the service manager about the daemon's state through `sd_notify(3)`.
///
/// Without `NOTIFY_SOCKET` (not started by systemd as `Type=notify`) every call is a
/// no-op, so the daemons call these unconditionally.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Sends raw assignments such as "READY=1\nSTATUS=...". Returns false if the
    /// datagram could not be sent (the reason is in errno-style `code`).
    @discardableResult
    public func notify(_ assignments: String) -> Bool {
        sd_notify(0, assignments) >= 0
    }

    public func ready(status: String) {
        notify("READY=1\nSTATUS=\(Self.oneLine(status))")
    }

    public func status(_ status: String) {
        notify("STATUS=\(Self.oneLine(status))")
    }

    public func stopping(status: String) {
        notify("STOPPING=1\nSTATUS=\(Self.oneLine(status))")
    }

    public func watchdog() {
        notify("WATCHDOG=1")
    }

    /// Asks for more time to start or stop (e.g. a long state transfer at shutdown).
    public func extendTimeout(microseconds: UInt64) {
        notify("EXTEND_TIMEOUT_USEC=\(microseconds)")
    }

    /// Whether a service manager listens (`NOTIFY_SOCKET` is set).
    public static var isSupervised: Bool {
        getenv("NOTIFY_SOCKET") != nil
    }

    /// A STATUS= value must be one line: every line break becomes a space. `isNewline`
    /// covers "\r\n", which is a single Character in Swift (a comparison with "\n" would
    /// miss it, and a CRLF from an error's text would end the assignment early).
    /// Printable ASCII, as a daemon's own status lines are, is returned as it is: the
    /// loops build a line at every tick, and walking it by Character costs far more.
    static func oneLine(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        return String(text.map { $0.isNewline ? " " : $0 })
    }
}
