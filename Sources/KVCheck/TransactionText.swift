import KVProtocol

/// How a history file (version 2) writes the transactions' calls and answers: bytes in
/// hexadecimal (`-` when empty), a value with its revision as `HEX@REVISION`.
///
/// | call | input | response |
/// |---|---|---|
/// | `read` | `-` | `found:HEX@REV` or `absent` |
/// | `remove` | `-` | `found:HEX@REV` (what it deleted) or `absent` |
/// | `write` | `HEX`, then `;if-absent` or `;if-revision=N`, then `;deadline=T` | `applied:` or `refused:`, then `HEX@REV` or `absent` (the key after it) |
/// | `add` | the delta in decimal | as `write` |
/// | `range` | `start=HEX;limit=N` (the key field is the prefix) | `page:`, then `KEY=HEX@REV` for each key found, separated by `,`, then `;next=KEY` or `;end` |
enum TransactionText {
    /// Whether version 1 of the format has `call`.
    static func isVersion1(_ call: Call) -> Bool {
        switch call {
        case .get, .put, .putHash, .delete: true
        case .read, .write, .add, .remove, .range: false
        }
    }

    static func input(of call: Call) -> String {
        switch call {
        case .get, .put, .putHash, .delete:
            preconditionFailure("a version 1 call: \(call)")
        case .read, .remove:
            return "-"
        case .write(let write):
            var text = HistoryFile.hex(write.value)
            switch write.condition {
            case .always: break
            case .absent: text += ";if-absent"
            case .revision(let revision): text += ";if-revision=\(revision)"
            }
            if let deadline = write.deadline { text += ";deadline=\(deadline)" }
            return text
        case .add(let delta):
            return String(delta)
        case .range(_, let start, let limit):
            return "start=\(HistoryFile.hex(start));limit=\(limit)"
        }
    }

    static func call(named name: Substring, input: Substring, key: Bytes) throws(HistoryFileError) -> Call {
        switch name {
        case "read", "remove":
            guard input == "-" else { throw .init("\(name) takes no input") }
            return name == "read" ? .read : .remove
        case "write":
            return .write(try write(input))
        case "add":
            guard let delta = Int64(input) else { throw .init("bad delta \"\(input)\"") }
            return .add(delta: delta)
        case "range":
            let parts = input.split(separator: ";")
            guard parts.count == 2, parts[0].hasPrefix("start="), parts[1].hasPrefix("limit="),
                let limit = Int(parts[1].dropFirst(6)), limit > 0
            else { throw .init("bad range input \"\(input)\"") }
            return .range(prefix: key, start: try HistoryFile.bytes(parts[0].dropFirst(6), "start"), limit: limit)
        default:
            throw .init("unknown call \"\(name)\"")
        }
    }

    private static func write(_ input: Substring) throws(HistoryFileError) -> ConditionalWrite {
        let parts = input.split(separator: ";", omittingEmptySubsequences: false)
        var write = ConditionalWrite(try HistoryFile.bytes(parts[0], "value"))
        for part in parts.dropFirst() {
            if part == "if-absent" {
                write.condition = .absent
            } else if part.hasPrefix("if-revision="), let revision = UInt64(part.dropFirst(12)) {
                write.condition = .revision(revision)
            } else if part.hasPrefix("deadline="), let deadline = UInt64(part.dropFirst(9)) {
                write.deadline = deadline
            } else {
                throw .init("bad write option \"\(part)\"")
            }
        }
        return write
    }

    static func text(of response: Response) -> String {
        switch response {
        case .entry(let found?): "found:" + text(of: found)
        case .entry(nil): "absent"
        case .written(let applied, let after): (applied ? "applied:" : "refused:") + (after.map(text(of:)) ?? "absent")
        case .page(let items, let next):
            "page:" + items.map { HistoryFile.hex($0.key) + "=" + text(of: $0.found) }.joined(separator: ",")
                + (next.map { ";next=" + HistoryFile.hex($0) } ?? ";end")
        case .value, .stored, .previous, .existed: preconditionFailure("a version 1 response: \(response)")
        }
    }

    private static func text(of found: VersionedValue) -> String {
        HistoryFile.hex(found.value) + "@" + String(found.revision)
    }

    /// The response `field` spells, or nil when it is none of version 2's.
    static func response(_ field: Substring) throws(HistoryFileError) -> Response? {
        if field.hasPrefix("found:") { return .entry(try versioned(field.dropFirst(6))) }
        for (prefix, applied) in [("applied:", true), ("refused:", false)] where field.hasPrefix(prefix) {
            let after = field.dropFirst(prefix.count)
            return .written(applied: applied, after: after == "absent" ? nil : try versioned(after))
        }
        guard field.hasPrefix("page:") else { return nil }
        let body = field.dropFirst(5)
        guard let end = body.lastIndex(of: ";") else { throw .init("a page without ;next= or ;end") }
        let next: Bytes?
        switch body[body.index(after: end)...] {
        case "end": next = nil
        case let tail where tail.hasPrefix("next="): next = try HistoryFile.bytes(tail.dropFirst(5), "next key")
        default: throw .init("a page without ;next= or ;end")
        }
        var items: [ScanItem] = []
        for item in body[..<end].split(separator: ",") {
            guard let equals = item.firstIndex(of: "=") else { throw .init("bad page item \"\(item)\"") }
            let key = try HistoryFile.bytes(item[..<equals], "page key")
            items.append(ScanItem(key: key, try versioned(item[item.index(after: equals)...])))
        }
        return .page(items, next: next)
    }

    private static func versioned(_ text: Substring) throws(HistoryFileError) -> VersionedValue {
        guard let at = text.lastIndex(of: "@"), let revision = UInt64(text[text.index(after: at)...]) else {
            throw .init("expected HEX@REVISION, found \"\(text)\"")
        }
        return VersionedValue(try HistoryFile.bytes(text[..<at], "value"), revision: revision)
    }
}
