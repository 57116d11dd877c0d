import KVCheck
import KVProtocol

// Concise transaction entries for tests, as `HistoryBuilding`'s: `read(1, "k", 0...10,
// "v", 3)` is client 1 reading "v" at revision 3; `nil` for the value is absent.

func found(_ value: String?, _ revision: UInt64) -> VersionedValue? {
    value.map { VersionedValue(Bytes(utf8: $0), revision: revision) }
}

func read(_ client: UInt64, _ key: String, _ span: ClosedRange<UInt64>, _ value: String?, _ revision: UInt64 = 0)
    -> HistoryOperation
{
    operation(client, key, .read, span, .entry(found(value, revision)))
}

func remove(
    _ client: UInt64, _ key: String, _ span: ClosedRange<UInt64>, _ value: String?, _ revision: UInt64 = 0
) -> HistoryOperation {
    operation(client, key, .remove, span, .entry(found(value, revision)))
}

/// A write answered `applied` (or refused), leaving `after` at `revision`.
func write(
    _ client: UInt64, _ key: String, _ value: String, if condition: ConditionalWrite.Condition = .always,
    deadline: UInt64? = nil, _ span: ClosedRange<UInt64>, applied: Bool = true, after: String?,
    _ revision: UInt64 = 0
) -> HistoryOperation {
    let call = Call.write(ConditionalWrite(Bytes(utf8: value), if: condition, deadline: deadline))
    return operation(client, key, call, span, .written(applied: applied, after: found(after, revision)))
}

func write(
    _ client: UInt64, _ key: String, _ value: String, if condition: ConditionalWrite.Condition = .always,
    deadline: UInt64? = nil, timedOutAfter invoked: UInt64
) -> HistoryOperation {
    unknown(client, key, .write(ConditionalWrite(Bytes(utf8: value), if: condition, deadline: deadline)), invoked)
}

func add(
    _ client: UInt64, _ key: String, _ delta: Int64, _ span: ClosedRange<UInt64>, applied: Bool = true,
    after: String?, _ revision: UInt64
) -> HistoryOperation {
    operation(client, key, .add(delta: delta), span, .written(applied: applied, after: found(after, revision)))
}

/// A scan's page over the keys beginning with `prefix`, from `start`.
func page(
    _ client: UInt64, _ prefix: String, from start: String = "", limit: Int = 10, _ span: ClosedRange<UInt64>,
    _ items: [(String, String, UInt64)], next: String? = nil
) -> HistoryOperation {
    let call = Call.range(prefix: Bytes(utf8: prefix), start: Bytes(utf8: start), limit: limit)
    let found = items.map { ScanItem(key: Bytes(utf8: $0.0), VersionedValue(Bytes(utf8: $0.1), revision: $0.2)) }
    return operation(client, prefix, call, span, .page(found, next: next.map { Bytes(utf8: $0) }))
}
