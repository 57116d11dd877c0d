import KVProtocol

/// Short, unambiguous renderings of keys and values for people reading an explanation.
enum ValueText {
    /// Longest value shown in full; longer ones are cut, with their length.
    static let maxShown = 32

    /// Printable ASCII in quotes (`"abc"`), anything else as hex (`0x00ff`).
    static func show(_ bytes: Bytes) -> String {
        let shown = bytes.prefix(maxShown)
        let cut = bytes.count > maxShown ? "…(\(bytes.count) bytes)" : ""
        if shown.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            return "\"" + String(decoding: shown, as: UTF8.self) + "\"" + cut
        }
        return "0x" + Hex.encode(Bytes(shown)) + cut
    }

    static func show(_ response: Response) -> String {
        switch response {
        case .value(let value?): show(value)
        case .value(nil): "absent"
        case .stored: "ok"
        case .previous(let previous): "previous \(show(previous))"
        case .existed(let existed): existed ? "existed" : "missing"
        case .entry(let found): show(found)
        case .written(let applied, let after): (applied ? "applied, " : "refused, ") + show(after)
        case .page(let items, let next):
            "[" + items.map { "\(show($0.key)) \(show($0.found))" }.joined(separator: ", ") + "] "
                + (next.map { "next \(show($0))" } ?? "end")
        }
    }

    static func show(_ found: VersionedValue?) -> String {
        found.map { "\(show($0.value)) at revision \($0.revision)" } ?? "absent"
    }

    /// A call's input, with a space before it; empty for calls without one.
    static func input(of call: Call) -> String {
        switch call {
        case .put(let value): " \(show(value))"
        case .putHash(let argument): " \(show(argument))"
        case .get, .delete, .read, .remove: ""
        case .write(let write):
            " \(show(write.value))" + condition(write.condition)
                + (write.deadline.map { " may expire from \($0)" } ?? "")
        case .add(let delta): delta < 0 ? " \(delta)" : " +\(delta)"
        case .range(let prefix, let start, let limit): " prefix \(show(prefix)) from \(show(start)) limit \(limit)"
        }
    }

    private static func condition(_ condition: ConditionalWrite.Condition) -> String {
        switch condition {
        case .always: ""
        case .absent: " if absent"
        case .revision(let revision): " if revision \(revision)"
        }
    }
}
