import KVProtocol

/// What a client asked for, read from a command's arguments. Names are matched without
/// regard to case; anything malformed or unsupported becomes an `answer` carrying the
/// error, so every command line maps to exactly one reply.
public enum RESPCommand: Equatable, Sendable {
    case get(key: Bytes)
    case set(key: Bytes, value: Bytes)
    /// DEL: answers how many of the keys existed.
    case delete(keys: [Bytes])
    /// EXISTS: answers how many of the keys exist (a key named twice counts twice).
    case exists(keys: [Bytes])
    case dbsize
    /// INFO with the sections asked for, lowercased (none: the default set).
    case info(sections: [String])
    /// HELLO with protocol version 2 or none.
    case hello
    /// The client's proof that it knows the shared secret (sent as is, as Redis does).
    case auth(password: Bytes)
    /// Answered on the spot, with no store or server state involved (PING, ECHO, the
    /// introspection commands clients send at connect, and every error).
    case answer(RESPValue)
    /// Answer, then close the connection (QUIT, and a protocol error).
    case close(RESPValue)

    /// The commands served, as COMMAND LIST and COMMAND COUNT report them.
    public static let supported = [
        "get", "set", "del", "exists", "dbsize", "info", "hello", "ping", "echo", "command", "client", "select",
        "config", "quit",
    ]

    public init(arguments: [Bytes]) {
        guard let first = arguments.first else {
            self = .answer(.error("ERR empty command"))
            return
        }
        let name = Self.uppercased(first)
        let arguments = arguments.dropFirst()
        switch name {
        case "GET":
            self = arguments.count == 1 ? .get(key: arguments.first!) : .answer(Self.arityError(name))
        case "SET":
            guard arguments.count >= 2 else {
                self = .answer(Self.arityError(name))
                return
            }
            if let option = arguments.dropFirst(2).first {
                self = .answer(Self.unsupportedSetOption(option))
                return
            }
            self = .set(key: arguments.first!, value: arguments.dropFirst().first!)
        case "DEL":
            self = arguments.isEmpty ? .answer(Self.arityError(name)) : .delete(keys: Array(arguments))
        case "EXISTS":
            self = arguments.isEmpty ? .answer(Self.arityError(name)) : .exists(keys: Array(arguments))
        case "DBSIZE":
            self = arguments.isEmpty ? .dbsize : .answer(Self.arityError(name))
        case "INFO":
            self = .info(sections: arguments.map { Self.uppercased($0).lowercased() })
        case "PING":
            switch arguments.count {
            case 0: self = .answer(.simpleString("PONG"))
            case 1: self = .answer(.bulkString(arguments.first!))
            default: self = .answer(Self.arityError(name))
            }
        case "ECHO":
            self = arguments.count == 1 ? .answer(.bulkString(arguments.first!)) : .answer(Self.arityError(name))
        case "HELLO":
            self = Self.hello(Array(arguments))
        case "COMMAND":
            self = .answer(Self.command(Array(arguments)))
        case "CLIENT":
            self = .answer(Self.client(Array(arguments)))
        case "SELECT":
            guard arguments.count == 1 else {
                self = .answer(Self.arityError(name))
                return
            }
            switch Int(String(decoding: arguments.first!, as: UTF8.self)) {
            case 0: self = .answer(.ok)
            case .some: self = .answer(.error("ERR DB index is out of range (kvservice has only database 0)"))
            case nil: self = .answer(.error("ERR value is not an integer or out of range"))
            }
        case "CONFIG":
            self = .answer(Self.config(Array(arguments)))
        case "QUIT":
            self = .close(.ok)
        case "AUTH":
            switch arguments.count {
            case 1: self = .auth(password: arguments.first!)
            // Redis 6's form names a user; kvservice has only the default one.
            case 2 where Self.uppercased(arguments.first!) == "DEFAULT": self = .auth(password: arguments.last!)
            case 2: self = .answer(.error("WRONGPASS invalid username-password pair or user is disabled."))
            default: self = .answer(Self.arityError(name))
            }
        default:
            self = .answer(.error("ERR unknown command '\(Self.shown(first))'"))
        }
    }

    /// Built only when needed: most commands are well formed, and this runs for each.
    private static func arityError(_ name: String) -> RESPValue {
        .error("ERR wrong number of arguments for '\(name.lowercased())' command")
    }

    /// SET's options all concern expiry or conditions the store does not have; taking
    /// the value while dropping them would silently change what the client asked for.
    private static func unsupportedSetOption(_ option: Bytes) -> RESPValue {
        let name = uppercased(option)
        switch name {
        case "EX", "PX", "EXAT", "PXAT", "KEEPTTL":
            return .error("ERR SET option \(name) is not supported: kvservice keys do not expire")
        case "NX", "XX":
            return .error("ERR SET option \(name) is not supported: kvservice has no conditional SET")
        case "GET":
            return .error("ERR SET option GET is not supported: use GET, then SET")
        default:
            return .error("ERR syntax error")
        }
    }

    private static func hello(_ arguments: [Bytes]) -> RESPCommand {
        guard let version = arguments.first else { return .hello }
        guard let number = Int(String(decoding: version, as: UTF8.self)) else {
            return .answer(.error("ERR Protocol version is not an integer or out of range"))
        }
        guard number == 2 else { return .answer(.error("NOPROTO sorry, this protocol version is not supported")) }
        var options = arguments.dropFirst()
        while let option = options.first {
            switch uppercased(option) {
            case "SETNAME" where options.count >= 2:
                options = options.dropFirst(2)
            case "AUTH":
                return .answer(.error("ERR AUTH is not supported: kvservice has no authentication"))
            default:
                return .answer(.error("ERR syntax error in HELLO option '\(shown(option))'"))
            }
        }
        return .hello
    }

    /// COMMAND and its subcommands, enough for clients that look at them when they
    /// connect: no per-command documentation is served.
    private static func command(_ arguments: [Bytes]) -> RESPValue {
        guard let sub = arguments.first else { return .array([]) }
        switch uppercased(sub) {
        case "COUNT": return .integer(Int64(supported.count))
        case "DOCS": return .array([])
        case "LIST": return .array(supported.map { .bulk($0) })
        case "INFO": return .array(arguments.dropFirst().map { _ in .null })
        default: return .error("ERR unknown subcommand '\(shown(sub))' of COMMAND (COUNT, DOCS, INFO, LIST)")
        }
    }

    /// CLIENT: the name a client gives itself is accepted and not kept.
    private static func client(_ arguments: [Bytes]) -> RESPValue {
        guard let sub = arguments.first else {
            return .error("ERR wrong number of arguments for 'client' command")
        }
        switch uppercased(sub) {
        case "SETNAME" where arguments.count == 2, "SETINFO" where arguments.count == 3: return .ok
        case "GETNAME" where arguments.count == 1: return .null
        default: return .error("ERR CLIENT \(shown(sub)) is not supported (SETNAME, SETINFO, GETNAME)")
        }
    }

    /// CONFIG GET for the two parameters redis-benchmark reads: nothing is saved to disk.
    private static func config(_ arguments: [Bytes]) -> RESPValue {
        guard let sub = arguments.first, uppercased(sub) == "GET" else {
            return .error("ERR CONFIG \(arguments.first.map(shown) ?? "") is not supported (only CONFIG GET)")
        }
        guard arguments.count >= 2 else { return .error("ERR wrong number of arguments for 'config|get' command") }
        let known: [(name: String, value: String)] = [("save", ""), ("appendonly", "no")]
        var pairs: [RESPValue] = []
        for (name, value) in known {
            let asked = arguments.dropFirst().contains { uppercased($0).lowercased() == name || $0 == Bytes("*".utf8) }
            if asked { pairs += [.bulk(name), .bulk(value)] }
        }
        return .array(pairs)
    }

    /// ASCII letters uppercased; any other byte kept (commands are ASCII words).
    static func uppercased(_ bytes: Bytes) -> String {
        String(decoding: bytes.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    /// An argument quoted back in an error: printable, and short.
    static func shown(_ bytes: Bytes) -> String {
        let text = bytes.prefix(64).map(RESPDecoder.printable).joined()
        return bytes.count > 64 ? text + "..." : text
    }
}
