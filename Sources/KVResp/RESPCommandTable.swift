import KVProtocol

/// Every command served: its arity as Redis 7 declares it (n: exactly n words with the
/// name, -n: at least n) and how it is built from its arguments. A name not here is an
/// unknown command.
enum RESPCommandTable {
    struct Entry: Sendable {
        var arity: Int
        var build: @Sendable (CommandArguments, CommandContext) throws(CommandError) -> RESPCommand
    }

    /// The commands' names, lowercased, in a stable order (COMMAND LIST).
    static var names: [String] { entries.keys.map { $0.lowercased() }.sorted() }

    static let entries: [String: Entry] = [
        // Strings
        "GET": data(2, StringCommands.get),
        "SET": data(-3, StringCommands.set),
        "SETNX": data(3, StringCommands.setIfAbsent),
        "SETEX": data(4, StringCommands.setWithExpiry(unit: "EX")),
        "PSETEX": data(4, StringCommands.setWithExpiry(unit: "PX")),
        "GETSET": data(3, StringCommands.getSet),
        "GETDEL": data(2, StringCommands.getDelete),
        "GETEX": data(-2, StringCommands.getWithExpiry),
        "MGET": data(-2, StringCommands.multiGet),
        "MSET": data(-3, StringCommands.multiSet),
        "MSETNX": data(-3, StringCommands.multiSetIfAbsent),
        "APPEND": data(3, StringCommands.append),
        "STRLEN": data(2, StringCommands.length),
        "GETRANGE": data(4, StringCommands.getRange),
        "INCR": data(2, CounterCommands.add(by: 1)),
        "DECR": data(2, CounterCommands.add(by: -1)),
        "INCRBY": data(3, CounterCommands.add(by: nil)),
        "DECRBY": data(3, CounterCommands.add(by: nil, negate: true)),
        "INCRBYFLOAT": data(3, CounterCommands.addFloat),
        // Keys
        "DEL": data(-2, KeyspaceCommands.delete),
        "UNLINK": data(-2, KeyspaceCommands.delete),
        "EXISTS": data(-2, KeyspaceCommands.exists),
        "TYPE": data(2, KeyspaceCommands.type),
        "RENAME": data(3, KeyspaceCommands.rename(onlyIfAbsent: false)),
        "RENAMENX": data(3, KeyspaceCommands.rename(onlyIfAbsent: true)),
        "FLUSHDB": data(-1, KeyspaceCommands.flush),
        "FLUSHALL": data(-1, KeyspaceCommands.flush),
        "EXPIRE": data(-3, ExpiryCommands.expire(inSeconds: true, relative: true)),
        "PEXPIRE": data(-3, ExpiryCommands.expire(inSeconds: false, relative: true)),
        "EXPIREAT": data(-3, ExpiryCommands.expire(inSeconds: true, relative: false)),
        "PEXPIREAT": data(-3, ExpiryCommands.expire(inSeconds: false, relative: false)),
        "TTL": data(2, ExpiryCommands.timeToLive(inSeconds: true)),
        "PTTL": data(2, ExpiryCommands.timeToLive(inSeconds: false)),
        "EXPIRETIME": data(2, ExpiryCommands.expireTime(inSeconds: true)),
        "PEXPIRETIME": data(2, ExpiryCommands.expireTime(inSeconds: false)),
        "PERSIST": data(2, ExpiryCommands.persist),
        "SCAN": Entry(arity: -2) { arguments, context throws(CommandError) in
            .data(try ScanCommands.scan(arguments, cursors: context.cursors))
        },
        "KEYS": data(2, ScanCommands.keys),
        "RANDOMKEY": Entry(arity: 1) { _, context in
            .data(ScanCommands.randomKey(from: context.randomStart(), pick: context.randomPick))
        },
        "DBSIZE": fixed(1, .dbsize),
        // Transactions
        "MULTI": fixed(1, .multi),
        "EXEC": fixed(1, .exec),
        "DISCARD": fixed(1, .discard),
        "WATCH": Entry(arity: -2) { arguments, _ in .watch(keys: Array(arguments.values)) },
        "UNWATCH": fixed(1, .unwatch),
        // The connection and the server
        "HELLO": Entry(arity: -1) { arguments, _ throws(CommandError) in .hello(try HelloRequest.parse(arguments)) },
        "AUTH": Entry(arity: -2) { arguments, _ throws(CommandError) in try ConnectionCommands.auth(arguments) },
        "PING": Entry(arity: -1) { arguments, _ throws(CommandError) in try ConnectionCommands.ping(arguments) },
        "ECHO": Entry(arity: 2) { arguments, _ in .answer(.bulkString(arguments[0])) },
        "INFO": Entry(arity: -1) { arguments, _ in
            .info(sections: arguments.values.map { RESPCommand.uppercased($0).lowercased() })
        },
        "SELECT": Entry(arity: 2) { arguments, _ throws(CommandError) in try ConnectionCommands.select(arguments) },
        "COMMAND": Entry(arity: -1) { arguments, _ in .answer(ConnectionCommands.command(arguments)) },
        "CLIENT": Entry(arity: -2) { arguments, _ in .answer(ConnectionCommands.client(arguments)) },
        "CONFIG": Entry(arity: -2) { arguments, _ in .answer(ConnectionCommands.config(arguments)) },
        "QUIT": fixed(-1, .close(.ok)),
    ]

    private static func data(
        _ arity: Int, _ build: @escaping @Sendable (CommandArguments) throws(CommandError) -> DataCommand
    ) -> Entry {
        Entry(arity: arity) { arguments, _ throws(CommandError) in .data(try build(arguments)) }
    }

    private static func fixed(_ arity: Int, _ command: RESPCommand) -> Entry {
        Entry(arity: arity) { _, _ in command }
    }
}
