import KVProtocol
import NodeDriver
import ServerCore

/// One request waiting for its answer, as a runtime's connection tracks it by request
/// id: the first answer completes it, a later or duplicated one finds nothing, and the
/// timeout fails it.
struct Exchange {
    enum Purpose {
        /// A request of a server's driver, which gets the answer or why there is none.
        case driver((Result<Message, PeerFailure>) -> Void)
        case clientView(attempt: UInt64)
        case clientRequest(attempt: UInt64)
        case adminView
        case adminSwitchover
    }

    enum Outcome {
        case answered(Message)
        case refused
        case timedOut
    }

    let requester: Int
    /// The requester's incarnation: a crashed process's answers reach nobody.
    let incarnation: UInt64
    let purpose: Purpose
    let target: Int
    /// Some copy of the request reached a running target: its connection is open there
    /// until it answers, and a crash of the target resets it.
    var delivered = false
    /// The request was a state-transfer chunk (its answer is checked specially).
    var isChunk = false
}
