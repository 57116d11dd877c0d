import ClientCore
import KVCheck
import KVProtocol

/// A client session: `ClientCore` with a workload, recording each operation in the
/// history as it is invoked and when it ends.
final class ClientSession {
    /// The operation in progress: what the history records of it, one call per key
    /// (several for a transfer or an audit).
    struct Current {
        struct Part {
            let key: Bytes
            let call: Call
            let ticket: HistoryRecorder.Ticket
            /// Where the call sits in the history.
            let position: Int
        }

        let parts: [Part]
    }

    let index: Int
    let node: Int
    let name: String
    var core: ClientCore
    /// Operations still to start; the final reader's are its keys.
    var remaining: Int
    var keysToRead: [Bytes] = []
    var current: Current?
    /// Numbers the session's wake-ups so a stale one (for a pause already over) is ignored.
    var wake: UInt64 = 0
    var started = 0
    /// The revision this session last saw of each key, which its conditional puts compare.
    var revisions: [Bytes: UInt64] = [:]
    /// A scan under way: where its next page starts, and the pages' limit.
    var scan: (next: Bytes, limit: Int)?

    init(index: Int, node: Int, name: String, core: ClientCore, operations: Int) {
        self.index = index
        self.node = node
        self.name = name
        self.core = core
        self.remaining = operations
    }

    var isDone: Bool { remaining == 0 && current == nil }
}
