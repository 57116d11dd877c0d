import KVProtocol

/// Collects a history as clients run: `invoke` before sending a request, `complete` when
/// its answer arrives. An operation never completed stays an unknown outcome, which is
/// what a timed-out or abandoned request is.
///
/// Not thread-safe: clients on several threads share one recorder behind a lock.
public struct HistoryRecorder: Sendable {
    /// Names an invoked operation until it completes.
    public struct Ticket: Hashable, Sendable {
        let index: Int
    }

    public private(set) var operations: [HistoryOperation] = []

    public init() {}

    public mutating func invoke(client: UInt64, key: Bytes, _ call: Call, at time: UInt64) -> Ticket {
        operations.append(HistoryOperation(client: client, key: key, call: call, invokedAt: time, outcome: .unknown))
        return Ticket(index: operations.count - 1)
    }

    /// Records the answer. Only definite answers belong here: a request that failed in a
    /// way that leaves its effect in doubt is simply not completed.
    public mutating func complete(_ ticket: Ticket, _ response: Response, at time: UInt64) {
        precondition(operations[ticket.index].outcome == .unknown, "operation \(ticket.index) completed twice")
        operations[ticket.index].outcome = .returned(at: time, response)
    }
}
