import KVProtocol

/// The commands about the connection and the server rather than the data: PING, ECHO,
/// AUTH, SELECT, and what clients ask at connect (COMMAND, CLIENT, CONFIG GET).
enum ConnectionCommands {
    static func ping(_ arguments: CommandArguments) throws(CommandError) -> RESPCommand {
        switch arguments.count {
        case 0: return .answer(.simpleString("PONG"))
        case 1: return .answer(.bulkString(arguments[0]))
        default: throw CommandError(RedisError.arity("ping"))
        }
    }

    static func auth(_ arguments: CommandArguments) throws(CommandError) -> RESPCommand {
        switch arguments.count {
        case 1: return .auth(password: arguments[0])
        // Redis 6's form names a user; kvservice has only the default one.
        case 2 where arguments.word(0) == "DEFAULT": return .auth(password: arguments[1])
        case 2: return .answer(RedisError.wrongPassword)
        default: throw CommandError(RedisError.syntax)
        }
    }

    static func select(_ arguments: CommandArguments) throws(CommandError) -> RESPCommand {
        switch CommandArguments.integer(arguments[0]) {
        case 0: return .answer(.ok)
        case .some: return .answer(.error("ERR DB index is out of range (kvservice has only database 0)"))
        case nil: throw CommandError(RedisError.notInteger)
        }
    }

    /// COMMAND and its subcommands, enough for clients that look at them when they
    /// connect: no per-command documentation is served.
    static func command(_ arguments: CommandArguments) -> RESPValue {
        guard arguments.count > 0 else { return .array([]) }
        switch arguments.word(0) {
        case "COUNT": return .integer(Int64(RESPCommandTable.entries.count))
        case "DOCS": return .map([])
        case "LIST": return .array(RESPCommandTable.names.map { .bulk($0) })
        case "INFO": return .array(arguments.values.dropFirst().map { _ in .null })
        default:
            return .error(
                "ERR unknown subcommand '\(RESPCommand.shown(arguments[0]))' of COMMAND (COUNT, DOCS, INFO, LIST)")
        }
    }

    /// CLIENT: the name a client gives itself is accepted and not kept.
    static func client(_ arguments: CommandArguments) -> RESPValue {
        switch arguments.word(0) {
        case "SETNAME" where arguments.count == 2, "SETINFO" where arguments.count == 3: return .ok
        case "GETNAME" where arguments.count == 1: return .null
        default:
            return .error("ERR CLIENT \(RESPCommand.shown(arguments[0])) is not supported (SETNAME, SETINFO, GETNAME)")
        }
    }

    /// CONFIG GET for the two parameters redis-benchmark reads: nothing is saved to disk.
    static func config(_ arguments: CommandArguments) -> RESPValue {
        guard arguments.word(0) == "GET" else {
            return .error("ERR CONFIG \(RESPCommand.shown(arguments[0])) is not supported (only CONFIG GET)")
        }
        guard arguments.count >= 2 else { return RedisError.arity("config|get") }
        let known: [(name: String, value: String)] = [("save", ""), ("appendonly", "no")]
        var pairs: [RESPValue.Pair] = []
        for (name, value) in known {
            let asked = arguments.values.dropFirst().contains {
                RESPCommand.uppercased($0).lowercased() == name || $0 == Bytes("*".utf8)
            }
            if asked { pairs.append(RESPValue.Pair(.bulk(name), .bulk(value))) }
        }
        return .map(pairs)
    }
}
