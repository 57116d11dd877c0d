import KVProtocol
import KVServices

/// Deadlines (Redis 7's expire.c): EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT with NX, XX,
/// GT and LT; TTL, PTTL, EXPIRETIME, PEXPIRETIME; PERSIST. Times left are computed from
/// the primary's clock as the transaction saw it (`TxnOutcome.now`), so they agree with
/// the deadline the primary enforces.
enum ExpiryCommands {
    /// EXPIRE (seconds from now), PEXPIRE (milliseconds), EXPIREAT (Unix seconds),
    /// PEXPIREAT (Unix milliseconds): 1 if the deadline was set, 0 if the key is missing
    /// or the condition did not hold. A time not after now deletes the key.
    static func expire(inSeconds: Bool, relative: Bool)
        -> @Sendable (CommandArguments) throws(CommandError) -> DataCommand
    {
        { arguments throws(CommandError) in
            let condition = try Self.condition(arguments)
            let when = try arguments.integer(1)
            let invalid = CommandError(RedisError.invalidExpireTime(arguments.name))
            guard !inSeconds || (when <= Int64.max / 1000 && when >= Int64.min / 1000) else { throw invalid }
            let expiry = try Self.expiry(
                millis: inSeconds ? when * 1000 : when, relative: relative, command: arguments.name)
            return .txn(TxnPlan(success: [.expire(arguments[0], expiry, condition)]) { $0.integerReply(0) })
        }
    }

    /// A deadline `millis` from now (`relative`) or at Unix time `millis`. A time not after
    /// now becomes one long past, which deletes the key as Redis does; a sum past 64 bits
    /// is Redis's "invalid expire time" (the primary's clock is close enough to this one
    /// for that bound).
    static func expiry(millis: Int64, relative: Bool, command: String) throws(CommandError) -> Expiry {
        guard millis > 0 else { return .at(1) }
        guard relative else { return .at(UInt64(millis)) }
        guard UInt64(millis) <= UInt64(Int64.max) - WallClock.millis() else {
            throw CommandError(RedisError.invalidExpireTime(command))
        }
        return .after(UInt64(millis))
    }

    /// NX, XX, GT, LT, as Redis 7's `parseExtendedExpireArgumentsOrReply`.
    private static func condition(_ arguments: CommandArguments) throws(CommandError) -> ExpireCondition {
        var flags = Set<String>()
        for index in 2..<max(2, arguments.count) {
            let word = arguments.word(index)
            guard ["NX", "XX", "GT", "LT"].contains(word) else {
                throw CommandError(.error("ERR Unsupported option \(RESPCommand.shown(arguments[index]))"))
            }
            flags.insert(word)
        }
        if flags.contains("NX") && flags.count > 1 {
            throw CommandError(.error("ERR NX and XX, GT or LT options at the same time are not compatible"))
        }
        if flags.contains("GT") && flags.contains("LT") {
            throw CommandError(.error("ERR GT and LT options at the same time are not compatible"))
        }
        // GT already requires a deadline (none counts as infinitely far), so XX adds
        // nothing to it; LT alone sets a deadline where there is none, XX with it does not.
        if flags.contains("XX") && flags.contains("LT") { return .ifSomeAndEarlier }
        if flags.contains("NX") { return .ifNone }
        if flags.contains("GT") { return .ifLater }
        if flags.contains("LT") { return .ifEarlier }
        if flags.contains("XX") { return .ifSome }
        return .always
    }

    /// TTL (seconds, rounded as Redis rounds) and PTTL: -2 for a missing key, -1 for one
    /// without a deadline.
    static func timeToLive(inSeconds: Bool) -> @Sendable (CommandArguments) -> DataCommand {
        deadlineQuery { deadline, now in
            let millis = max(deadline - now, 0)
            return inSeconds ? (millis + 500) / 1000 : millis
        }
    }

    /// EXPIRETIME (Unix seconds) and PEXPIRETIME (Unix milliseconds); -2, -1 as TTL.
    static func expireTime(inSeconds: Bool) -> @Sendable (CommandArguments) -> DataCommand {
        deadlineQuery { deadline, _ in inSeconds ? deadline / 1000 : deadline }
    }

    /// A read of the key's deadline: -2 for a missing key, -1 for one without a deadline,
    /// else `answer(deadline, now)` in Unix milliseconds.
    private static func deadlineQuery(
        _ answer: @escaping @Sendable (_ deadline: Int64, _ now: Int64) -> Int64
    ) -> @Sendable (CommandArguments) -> DataCommand {
        { arguments in
            .txn(
                TxnPlan(success: [.get(arguments[0])]) { results in
                    guard let stored = results.stored(0) else { return .integer(-2) }
                    guard stored.hasDeadline else { return .integer(-1) }
                    return .integer(answer(Int64(clamping: stored.expiresAt), Int64(clamping: results.now)))
                })
        }
    }

    /// PERSIST: 1 if a deadline was removed.
    static func persist(_ arguments: CommandArguments) -> DataCommand {
        .txn(TxnPlan(success: [.expire(arguments[0], .never, .always)]) { $0.integerReply(0) })
    }
}
