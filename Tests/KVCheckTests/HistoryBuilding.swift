import KVCheck
import KVProtocol

// Concise history entries for tests: `put(1, "k", "v", 0...10)` is client 1 putting "v"
// under "k", invoked at 0 and acknowledged at 10; `put(1, "k", "v", timedOutAfter: 5)`
// is the same put invoked at 5 whose outcome the client never learned.

func get(_ client: UInt64, _ key: String, _ span: ClosedRange<UInt64>, _ value: String?) -> HistoryOperation {
    operation(client, key, .get, span, .value(value.map { Bytes(utf8: $0) }))
}

func put(_ client: UInt64, _ key: String, _ value: String, _ span: ClosedRange<UInt64>) -> HistoryOperation {
    operation(client, key, .put(value: Bytes(utf8: value)), span, .stored)
}

func put(_ client: UInt64, _ key: String, _ value: String, timedOutAfter invoked: UInt64) -> HistoryOperation {
    unknown(client, key, .put(value: Bytes(utf8: value)), invoked)
}

func putHash(
    _ client: UInt64, _ key: String, _ argument: String, _ span: ClosedRange<UInt64>, previous: String
) -> HistoryOperation {
    operation(client, key, .putHash(argument: Bytes(utf8: argument)), span, .previous(Bytes(utf8: previous)))
}

func putHash(_ client: UInt64, _ key: String, _ argument: String, timedOutAfter invoked: UInt64) -> HistoryOperation {
    unknown(client, key, .putHash(argument: Bytes(utf8: argument)), invoked)
}

func delete(_ client: UInt64, _ key: String, _ span: ClosedRange<UInt64>, existed: Bool) -> HistoryOperation {
    operation(client, key, .delete, span, .existed(existed))
}

func delete(_ client: UInt64, _ key: String, timedOutAfter invoked: UInt64) -> HistoryOperation {
    unknown(client, key, .delete, invoked)
}

func get(_ client: UInt64, _ key: String, timedOutAfter invoked: UInt64) -> HistoryOperation {
    unknown(client, key, .get, invoked)
}

/// The value PutHash stores after `previous`, as text (it is a decimal number).
func hashed(_ previous: String, _ argument: String) -> String {
    PutHash.newValue(previous: Bytes(utf8: previous), argument: Bytes(utf8: argument)).utf8String
}

func operation(
    _ client: UInt64, _ key: String, _ call: Call, _ span: ClosedRange<UInt64>, _ response: Response
) -> HistoryOperation {
    HistoryOperation(
        client: client, key: Bytes(utf8: key), call: call, invokedAt: span.lowerBound,
        outcome: .returned(at: span.upperBound, response))
}

func unknown(_ client: UInt64, _ key: String, _ call: Call, _ invoked: UInt64) -> HistoryOperation {
    HistoryOperation(client: client, key: Bytes(utf8: key), call: call, invokedAt: invoked, outcome: .unknown)
}
