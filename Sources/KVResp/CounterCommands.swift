import KVProtocol

/// INCR, INCRBY, DECR, DECRBY and INCRBYFLOAT: one add operation each, which keeps the
/// key's deadline and answers the new value or Redis's error.
enum CounterCommands {
    /// INCR and DECR (`by` 1 or -1), or INCRBY and DECRBY (`by` nil: the argument,
    /// negated when `negate`).
    static func add(by fixed: Int64?, negate: Bool = false)
        -> @Sendable (CommandArguments) throws(CommandError) -> DataCommand
    {
        { arguments throws(CommandError) in
            var amount: Int64
            if let fixed { amount = fixed } else { amount = try arguments.integer(1) }
            if negate {
                // Redis refuses DECRBY of the one amount whose negation does not fit.
                guard amount != .min else { throw CommandError(RedisError.decrementOverflow) }
                amount = -amount
            }
            return .txn(TxnPlan(success: [.add(arguments[0], amount)]) { $0.integerReply(0) })
        }
    }

    /// INCRBYFLOAT key increment: the new value as a bulk string, in Redis 7's RESP3 too.
    static func addFloat(_ arguments: CommandArguments) throws(CommandError) -> DataCommand {
        let amount = try arguments.float(1)
        return .txn(
            TxnPlan(success: [.addFloat(arguments[0], amount)]) { results in
                switch results[0] {
                case .bytes(let text): .bulkString(text)
                case .error(let error): RedisError.failed(error)
                default: TxnPlanResults.unexpected
                }
            })
    }
}
