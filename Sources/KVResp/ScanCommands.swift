import KVProtocol

/// The commands that walk the key space with range operations: SCAN, KEYS, RANDOMKEY.
enum ScanCommands {
    /// SCAN's default COUNT, as Redis's.
    static let defaultCount = 10

    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: at most COUNT keys looked
    /// at per call, from where the cursor left off. Every key present for the whole walk
    /// is returned at least once (the range walks in key order and resumes after the last
    /// key it looked at), which is SCAN's guarantee; keys are never returned twice.
    static func scan(_ arguments: CommandArguments, cursors: ScanCursorTable) throws(CommandError) -> DataCommand {
        guard let cursor = UInt64(String(decoding: arguments[0], as: UTF8.self)) else {
            throw CommandError(RedisError.invalidCursor)
        }
        var count = defaultCount
        var pattern: Bytes?
        var matchesStrings = true
        var index = 1
        while index < arguments.count {
            guard index + 1 < arguments.count else { throw CommandError(RedisError.syntax) }
            switch arguments.word(index) {
            case "COUNT":
                let asked = try arguments.integer(index + 1)
                guard asked >= 1 else { throw CommandError(RedisError.syntax) }
                count = Int(min(asked, Int64(KeyRange.maxLimit)))
            case "MATCH":
                pattern = arguments[index + 1]
            case "TYPE":
                // Every value is a string: TYPE string matches all, any other type none.
                matchesStrings = RESPCommand.uppercased(arguments[index + 1]) == "STRING"
            default:
                throw CommandError(RedisError.syntax)
            }
            index += 2
        }
        var start: Bytes = []
        if cursor != 0 {
            guard let key = cursors.key(for: cursor) else { throw CommandError(RedisError.invalidCursor) }
            start = key
        }
        let range = Self.range(from: start, matching: pattern, limit: count)
        let onlyStrings = matchesStrings
        return .txn(
            TxnPlan(success: [.range(range)]) { results in
                guard case .range(let items, let next) = results[0] else { return TxnPlanResults.unexpected }
                let cursor = next.map { cursors.cursor(resumingAt: $0) } ?? 0
                let keys = onlyStrings ? items.map { RESPValue.bulkString($0.key) } : []
                return .array([.bulk(String(cursor)), .array(keys)])
            })
    }

    /// KEYS pattern: every matching key, in as many ranges as the key space needs.
    static func keys(_ arguments: CommandArguments) -> DataCommand {
        .txn(keys(matching: arguments[0], from: [], found: []))
    }

    private static func keys(matching pattern: Bytes, from start: Bytes, found: [RESPValue]) -> TxnPlan {
        TxnPlan(success: [.range(range(from: start, matching: pattern, limit: KeyRange.maxLimit))]) { results in
            guard case .range(let items, let next) = results[0] else { return .value(TxnPlanResults.unexpected) }
            let all = found + items.map { .bulkString($0.key) }
            guard let next else { return .value(.array(all)) }
            return .more(keys(matching: pattern, from: next, found: all))
        }
    }

    /// RANDOMKEY: a key near a random place in the key order, or the first keys when the
    /// walk from there finds none (it wraps to the beginning). Not uniform: a key after a
    /// wide gap in the order is picked more often than one after a narrow gap.
    static func randomKey(from start: Bytes, pick: @escaping @Sendable (Int) -> Int) -> DataCommand {
        let sample = 32
        let ranges: [TxnOp] = [
            .range(KeyRange(start: start, limit: sample, keysOnly: true)),
            .range(KeyRange(start: [], limit: sample, keysOnly: true)),
        ]
        return .txn(
            TxnPlan(success: ranges) { results in
                for index in 0..<2 {
                    if case .range(let items, _) = results[index], !items.isEmpty {
                        return .bulkString(items[pick(items.count)].key)
                    }
                }
                return .null
            })
    }

    /// A keys-only range; a pattern's literal beginning becomes the range's prefix, so a
    /// walk over `user:*` looks at the keys that begin with `user:` alone.
    static func range(from start: Bytes, matching pattern: Bytes?, limit: Int) -> KeyRange {
        guard let pattern, pattern != Array("*".utf8) else {
            return KeyRange(start: start, limit: limit, keysOnly: true)
        }
        let special = Set("*?[\\".utf8)
        let prefix = Array(pattern.prefix { !special.contains($0) })
        return KeyRange(start: start, prefix: prefix, pattern: pattern, limit: limit, keysOnly: true)
    }
}
