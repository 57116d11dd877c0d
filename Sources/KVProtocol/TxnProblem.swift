/// What a server refuses in a transaction, whoever sends it: too deep, too many items,
/// a key or value over its limit, a range limit out of bounds. The codec refuses the
/// same when it decodes one; a transaction built in-process (the Redis endpoint's) is
/// checked with this before it runs.
extension Txn {
    /// Why this transaction would be refused, or nil.
    public var problem: String? {
        var items = 0
        return problem(depth: 0, items: &items)
    }

    private func problem(depth: Int, items: inout Int) -> String? {
        guard depth < Txn.maxDepth else { return "transactions nested more than \(Txn.maxDepth) deep" }
        items += compares.count + success.count + failure.count
        guard items <= Txn.maxItems else {
            return "a transaction of more than \(Txn.maxItems) compares and operations"
        }
        for compare in compares {
            if let problem = Self.keyProblem(compare.key) { return problem }
            if case .value(let value) = compare.target, let problem = Self.valueProblem(value) { return problem }
        }
        for op in success + failure {
            if let problem = Self.problem(op, depth: depth, items: &items) { return problem }
        }
        return nil
    }

    private static func problem(_ op: TxnOp, depth: Int, items: inout Int) -> String? {
        switch op {
        case .get(let key), .delete(let key), .add(let key, _), .addFloat(let key, _), .expire(let key, _, _):
            return keyProblem(key)
        case .put(let key, let value, _, _), .append(let key, let value):
            return keyProblem(key) ?? valueProblem(value)
        case .rename(let from, let to, _):
            return keyProblem(from) ?? keyProblem(to)
        case .range(let range):
            guard (1...KeyRange.maxLimit).contains(range.limit) else {
                return "a range limit of \(range.limit) (1 to \(KeyRange.maxLimit))"
            }
            return keyProblem(range.start) ?? keyProblem(range.prefix) ?? range.pattern.flatMap(keyProblem)
        case .deleteAll:
            return nil
        case .txn(let inner):
            return inner.problem(depth: depth + 1, items: &items)
        }
    }

    private static func keyProblem(_ key: Bytes) -> String? {
        key.count > Limits.maxKeySize ? "key of \(key.count) bytes exceeds the limit of \(Limits.maxKeySize)" : nil
    }

    private static func valueProblem(_ value: Bytes) -> String? {
        value.count > Limits.maxValueSize
            ? "value of \(value.count) bytes exceeds the limit of \(Limits.maxValueSize)" : nil
    }
}
