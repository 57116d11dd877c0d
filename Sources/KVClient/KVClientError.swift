import KVProtocol

public enum KVClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No answer before the caller's deadline; `lastProblem` says what went wrong last.
    case timedOut(lastProblem: String)
    /// The request can never succeed as sent (the server's reason).
    case invalid(String)
    /// The server has a newer request from this client (a client used concurrently
    /// without its session gate, or a clock of sequence numbers gone wrong).
    case staleRequest
    case badMonitorAddress(String)
    /// The session's connection pool was closed.
    case connectionPoolClosed
    /// The shared secret is missing here or there, or differs: retrying cannot help.
    case authentication(String)
    /// One operation of a convenience call (`increment`, ...) could not run; it changed
    /// nothing (a value that is not an integer, an overflow, ...).
    case operationFailed(TxnError)
    /// The server answered in a way this client does not expect (a transaction answered
    /// without an outcome, or with results of the wrong kind).
    case unexpectedAnswer(String)

    public var description: String {
        switch self {
        case .timedOut(let problem): "timed out (last problem: \(problem))"
        case .invalid(let reason): "invalid request: \(reason)"
        case .staleRequest: "the server has seen a newer request from this client"
        case .badMonitorAddress(let address): "bad monitor address \"\(address)\" (expected HOST:PORT)"
        case .connectionPoolClosed: "the connection pool is closed"
        case .authentication(let problem): "authentication failed: \(problem)"
        case .operationFailed(let error): "\(error)"
        case .unexpectedAnswer(let what): "unexpected answer: \(what)"
        }
    }
}
