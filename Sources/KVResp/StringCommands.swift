import KVProtocol

/// GET, SET and the other commands on one string value, each compiled to the operations
/// that carry it out and the function that makes its reply (Redis 7's t_string.c).
enum StringCommands {
    static func get(_ arguments: CommandArguments) -> DataCommand {
        .plain(.get(arguments[0]))
    }

    /// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
    static func set(_ arguments: CommandArguments) throws(CommandError) -> DataCommand {
        let options = try SetOptions(arguments, from: 2, for: .set)
        let (key, value) = (arguments[0], arguments[1])
        let expiry = options.expiry ?? .never
        if options.condition == .always && !options.returnPrevious && expiry == .never {
            return .plain(.set(key, value))
        }
        let compares: [Compare]
        switch options.condition {
        case .always: compares = []
        case .ifAbsent: compares = [.absent(key)]
        case .ifPresent: compares = [.exists(key)]
        }
        let put = TxnOp.put(key, value: value, expiry: expiry, returnPrevious: options.returnPrevious)
        if options.returnPrevious {
            // The previous value either way: from the put, or read when the condition failed.
            return .txn(
                TxnPlan(compares: compares, success: [put], failure: [.get(key)]) { .bulkOrNull($0.stored(0)?.value) })
        }
        return .txn(TxnPlan(compares: compares, success: [put]) { $0.succeeded ? .ok : .null })
    }

    /// SETNX key value: 1 if set, 0 if the key existed.
    static func setIfAbsent(_ arguments: CommandArguments) -> DataCommand {
        let put = TxnOp.put(arguments[0], value: arguments[1], expiry: .never, returnPrevious: false)
        return .txn(TxnPlan(compares: [.absent(arguments[0])], success: [put]) { .integer($0.succeeded ? 1 : 0) })
    }

    /// SETEX key seconds value, PSETEX key milliseconds value.
    static func setWithExpiry(unit: String) -> @Sendable (CommandArguments) throws(CommandError) -> DataCommand {
        { arguments throws(CommandError) in
            let expiry = try SetOptions.expiry(unit, try arguments.integer(1), command: arguments.name)
            let put = TxnOp.put(arguments[0], value: arguments[2], expiry: expiry, returnPrevious: false)
            return .txn(TxnPlan(success: [put]) { _ in .ok })
        }
    }

    /// GETSET key value: the previous value; the deadline is cleared, as by SET.
    static func getSet(_ arguments: CommandArguments) -> DataCommand {
        let put = TxnOp.put(arguments[0], value: arguments[1], expiry: .never, returnPrevious: true)
        return .txn(TxnPlan(success: [put]) { .bulkOrNull($0.stored(0)?.value) })
    }

    static func getDelete(_ arguments: CommandArguments) -> DataCommand {
        .txn(TxnPlan(success: [.delete(arguments[0])]) { .bulkOrNull($0.stored(0)?.value) })
    }

    /// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]: the value, read before the
    /// deadline changes (a deadline in the past deletes the key, as in Redis).
    static func getWithExpiry(_ arguments: CommandArguments) throws(CommandError) -> DataCommand {
        let options = try SetOptions(arguments, from: 1, for: .getex)
        let key = arguments[0]
        let expire = options.expiry.map { TxnOp.expire(key, $0, .always) }
        return .txn(TxnPlan(success: [.get(key)] + (expire.map { [$0] } ?? [])) { .bulkOrNull($0.stored(0)?.value) })
    }

    static func multiGet(_ arguments: CommandArguments) -> DataCommand {
        let count = arguments.count
        return .txn(
            TxnPlan(success: arguments.values.map { .get($0) }) { results in
                .array((0..<count).map { .bulkOrNull(results.stored($0)?.value) })
            })
    }

    /// MSET key value [key value ...]: every deadline cleared, as by SET.
    static func multiSet(_ arguments: CommandArguments) throws(CommandError) -> DataCommand {
        let puts = try pairs(arguments)
        return .txn(TxnPlan(success: puts) { _ in .ok })
    }

    /// MSETNX: all or none, 1 if every key was absent.
    static func multiSetIfAbsent(_ arguments: CommandArguments) throws(CommandError) -> DataCommand {
        let puts = try pairs(arguments)
        let compares = stride(from: 0, to: arguments.count, by: 2).map { Compare.absent(arguments[$0]) }
        return .txn(TxnPlan(compares: compares, success: puts) { .integer($0.succeeded ? 1 : 0) })
    }

    private static func pairs(_ arguments: CommandArguments) throws(CommandError) -> [TxnOp] {
        guard arguments.count % 2 == 0 else { throw CommandError(RedisError.arity(arguments.name)) }
        return stride(from: 0, to: arguments.count, by: 2).map {
            .put(arguments[$0], value: arguments[$0 + 1], expiry: .never, returnPrevious: false)
        }
    }

    static func append(_ arguments: CommandArguments) -> DataCommand {
        .txn(TxnPlan(success: [.append(arguments[0], arguments[1])]) { $0.integerReply(0) })
    }

    static func length(_ arguments: CommandArguments) -> DataCommand {
        .txn(TxnPlan(success: [.get(arguments[0])]) { .integer(Int64($0.stored(0)?.value.count ?? 0)) })
    }

    /// GETRANGE key start end: inclusive offsets, negative ones from the end, clamped.
    static func getRange(_ arguments: CommandArguments) throws(CommandError) -> DataCommand {
        let (start, end) = (try arguments.integer(1), try arguments.integer(2))
        return .txn(
            TxnPlan(success: [.get(arguments[0])]) { results in
                .bulkString(substring(results.stored(0)?.value ?? [], start, end))
            })
    }

    /// Redis's `getrangeCommand` arithmetic.
    static func substring(_ value: Bytes, _ start: Int64, _ end: Int64) -> Bytes {
        let length = Int64(value.count)
        if start < 0 && end < 0 && start > end { return [] }
        var (first, last) = (start < 0 ? length + start : start, end < 0 ? length + end : end)
        first = max(first, 0)
        last = min(max(last, 0), length - 1)
        guard length > 0, first <= last else { return [] }
        return Array(value[Int(first)...Int(last)])
    }
}
