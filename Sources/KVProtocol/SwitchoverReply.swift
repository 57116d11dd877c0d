/// The monitor's answer to a `switchover` request.
public struct SwitchoverReply: Equatable, Sendable {
    public enum Status: UInt8, Sendable {
        /// The backup is primary of the returned view.
        case done = 0
        /// Not now (the view is not yet acknowledged, or could not be saved); asking
        /// again later may succeed.
        case retryLater = 1
        /// Not possible in this view (no backup, or the backup cannot take over).
        case refused = 2
    }

    public var status: Status
    /// Why it was not done; empty when it was.
    public var reason: String
    /// The view in force after the request.
    public var view: View

    public init(status: Status, reason: String = "", view: View) {
        self.status = status
        self.reason = reason
        self.view = view
    }
}
