import KVProtocol

/// What a client session's runtime must do next. An operation has exactly one next
/// step at a time: a session never has two attempts in flight.
public enum ClientEffect: Equatable, Sendable {
    /// Ask the monitor at this address for the current view; report `.viewReceived`,
    /// `.notLeader` or `.attemptFailed`.
    case askMonitor(String, attempt: UInt64, timeout: UInt64)
    /// Send `request` to `address`; report `.replyReceived` or `.attemptFailed`.
    case send(ClientRequest, to: String, attempt: UInt64, timeout: UInt64)
    /// Wait this long, then report `.pauseEnded`.
    case pause(UInt64)
    /// The operation is done with this answer (status `ok` or `noKey`).
    case complete(ClientReply)
    /// The operation is over without an answer.
    case fail(ClientFailure)
}

/// Why an operation ended without an answer.
public enum ClientFailure: Equatable, Sendable {
    /// The deadline passed: the update may or may not have been applied.
    case timedOut(lastProblem: String)
    /// The request can never succeed as sent (the server's reason); nothing was applied.
    case invalid(String)
    /// The server has a newer request from this client id: the session's operations
    /// overlapped, which its runtime must prevent.
    case staleRequest
}
