import KVProtocol

/// The commands on keys whatever their value (Redis 7's db.c): DEL, UNLINK, EXISTS,
/// TYPE, RENAME, RENAMENX, FLUSHDB and FLUSHALL.
enum KeyspaceCommands {
    /// DEL and UNLINK: how many of the keys existed. One key takes the plain path.
    static func delete(_ arguments: CommandArguments) -> DataCommand {
        guard arguments.count > 1 else { return .plain(.delete(arguments[0])) }
        return .txn(deleting(Array(arguments.values)))
    }

    /// Deletes `keys`, answering how many existed. Each is deleted by setting a deadline
    /// long past, whose result is 1 or 0, rather than by the delete operation, whose result
    /// is the deleted value: a writing transaction's results travel to the backup with it
    /// (the at-most-once table keeps them), and the values of several large keys would
    /// not fit in one forward.
    static func deleting(_ keys: [Bytes]) -> TxnPlan {
        TxnPlan(success: keys.map { .expire($0, .at(1), .always) }) { results in
            .integer((0..<keys.count).reduce(0) { count, index in count + (results[index] == .integer(1) ? 1 : 0) })
        }
    }

    /// EXISTS: how many of the keys exist, a key named twice counting twice.
    static func exists(_ arguments: CommandArguments) -> DataCommand {
        .txn(TxnPlan(success: arguments.values.map { .get($0) }) { .integer(found($0, arguments.count)) })
    }

    private static func found(_ results: TxnPlanResults, _ count: Int) -> Int64 {
        Int64((0..<count).count { results.stored($0) != nil })
    }

    /// TYPE: every kvservice value is a string.
    static func type(_ arguments: CommandArguments) -> DataCommand {
        .txn(TxnPlan(success: [.get(arguments[0])]) { .simpleString($0.stored(0) == nil ? "none" : "string") })
    }

    /// RENAME (OK) and RENAMENX (1, or 0 when the new name exists); the deadline moves
    /// with the value.
    static func rename(onlyIfAbsent: Bool) -> @Sendable (CommandArguments) -> DataCommand {
        { arguments in
            let op = TxnOp.rename(arguments[0], to: arguments[1], onlyIfAbsent: onlyIfAbsent)
            return .txn(
                TxnPlan(success: [op]) { results in
                    let reply = results.integerReply(0)
                    return onlyIfAbsent || reply != .integer(1) ? reply : .ok
                })
        }
    }

    /// FLUSHDB and FLUSHALL [ASYNC | SYNC]: every key deleted, as one replicated update.
    static func flush(_ arguments: CommandArguments) throws(CommandError) -> DataCommand {
        guard arguments.count == 0 || (arguments.count == 1 && ["ASYNC", "SYNC"].contains(arguments.word(0))) else {
            throw CommandError(RedisError.syntax)
        }
        return .txn(TxnPlan(success: [.deleteAll]) { _ in .ok })
    }
}
