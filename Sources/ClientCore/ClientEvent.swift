import KVProtocol

/// What can happen to a client session's operation. `attempt` names the attempt an
/// answer belongs to, so an answer to an attempt the session already gave up on (a
/// late or duplicated message) is told apart and ignored.
public enum ClientEvent: Equatable, Sendable {
    /// The monitor answered a view request.
    case viewReceived(attempt: UInt64, View)
    /// The monitor is a follower with no view to give: `leader` is the one it names
    /// (empty: none known).
    case notLeader(attempt: UInt64, leader: String)
    /// A server answered a data request.
    case replyReceived(attempt: UInt64, ClientReply)
    /// The attempt got no usable answer: timeout, refused or lost connection, or an
    /// answer of the wrong kind. `problem` says which, for the caller's error message.
    case attemptFailed(attempt: UInt64, problem: String)
    /// The pause the session asked for is over.
    case pauseEnded
}
