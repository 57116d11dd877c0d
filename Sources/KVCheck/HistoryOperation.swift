import KVProtocol

/// One client operation on one key as a history records it: what was asked, when, and
/// what came back, if anything did.
///
/// Times are in any unit that increases monotonically across all clients of one history
/// (nanoseconds of one process's monotonic clock, a simulator's ticks). The checker only
/// compares them.
public struct HistoryOperation: Hashable, Sendable, CustomStringConvertible {
    public enum Outcome: Hashable, Sendable {
        /// The client got `response` at `at`.
        case returned(at: UInt64, Response)
        /// The client gave up (timeout, lost connection): the operation may have taken
        /// effect at any time after its invocation, or never.
        case unknown
    }

    public var client: UInt64
    public var key: Bytes
    public var call: Call
    public var invokedAt: UInt64
    public var outcome: Outcome

    public init(client: UInt64, key: Bytes, call: Call, invokedAt: UInt64, outcome: Outcome) {
        self.client = client
        self.key = key
        self.call = call
        self.invokedAt = invokedAt
        self.outcome = outcome
    }

    /// For example `client 3 puthash "k" "a" -> previous "x" [100, 250]`; an unknown
    /// outcome reads `-> ? [100, ?]`.
    public var description: String {
        var text = "client \(client) \(call.name) \(ValueText.show(key))" + ValueText.input(of: call)
        switch outcome {
        case .returned(let at, let response):
            text += " -> \(ValueText.show(response)) [\(invokedAt), \(at)]"
        case .unknown:
            text += " -> ? [\(invokedAt), ?]"
        }
        return text
    }
}
