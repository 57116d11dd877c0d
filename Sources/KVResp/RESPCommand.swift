import KVProtocol

/// What a client asked for, read from a command's arguments against the table of
/// commands served (`RESPCommandTable`). Names are matched without regard to case.
/// Every command line maps to exactly one reply: anything malformed becomes an error
/// to answer, which inside MULTI either aborts the transaction (`rejected`: an unknown
/// command or a wrong number of arguments, as Redis rejects before queuing) or takes the
/// command's place in EXEC's reply (`answer`: what Redis finds wrong when it runs it).
enum RESPCommand: Sendable {
    case data(DataCommand)
    case dbsize
    /// INFO with the sections asked for, lowercased (none: the default set).
    case info(sections: [String])
    case hello(HelloRequest)
    /// The client's proof that it knows the shared secret (sent as is, as Redis does).
    case auth(password: Bytes)
    case multi
    case exec
    case discard
    case watch(keys: [Bytes])
    case unwatch
    /// Answered on the spot, with no store or server state involved (PING, ECHO, the
    /// introspection commands clients send at connect, and errors in arguments).
    case answer(RESPValue)
    /// Refused before it could be queued: an unknown command or a wrong number of
    /// arguments.
    case rejected(RESPValue)
    /// Answer, then close the connection (QUIT, and a protocol error).
    case close(RESPValue)

    init(arguments: [Bytes], context: CommandContext) {
        guard let first = arguments.first else {
            self = .rejected(.error("ERR empty command"))
            return
        }
        let name = Self.uppercased(first)
        let rest = arguments.dropFirst()
        guard let entry = RESPCommandTable.entries[name] else {
            self = .rejected(RedisError.unknownCommand(first, rest))
            return
        }
        guard entry.arity >= 0 ? arguments.count == entry.arity : arguments.count >= -entry.arity else {
            self = .rejected(RedisError.arity(name))
            return
        }
        do {
            self = try entry.build(CommandArguments(name: name, rest), context)
        } catch {
            self = .answer(error.reply)
        }
        if case .data(.txn(let plan)) = self, let problem = UpdateBudget.problem(with: plan).0 {
            self = .answer(problem)
        }
    }

    /// Whether the commands after it must wait until it is answered: WATCH, whose
    /// revisions an EXEC pipelined behind it compares.
    var isBarrier: Bool {
        if case .watch = self { return true }
        return false
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

/// What building a command may need beyond its arguments.
struct CommandContext: Sendable {
    /// SCAN's cursors, shared by every connection of the endpoint.
    var cursors: ScanCursorTable
    /// Where RANDOMKEY starts looking, and which of the keys found it picks.
    var randomStart: @Sendable () -> Bytes
    var randomPick: @Sendable (Int) -> Int

    static func live(cursors: ScanCursorTable) -> CommandContext {
        CommandContext(
            cursors: cursors,
            randomStart: {
                // Printable bytes: keys are mostly text, and a start past all of them
                // would always wrap to the first key.
                (0..<Int.random(in: 1...4)).map { _ in UInt8.random(in: 0x21...0x7E) }
            },
            randomPick: { Int.random(in: 0..<$0) })
    }
}
