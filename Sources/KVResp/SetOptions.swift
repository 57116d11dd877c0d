import KVProtocol

/// The options of SET and GETEX, read as Redis 7's `parseExtendedStringArgumentsOrReply`
/// reads them: each at most once in effect (a repeated one wins), conflicting ones a
/// syntax error, an expire time checked as Redis checks it.
struct SetOptions: Equatable {
    enum Condition: Equatable {
        case always
        case ifAbsent
        case ifPresent
    }

    var condition = Condition.always
    /// Reply with the previous value (SET ... GET).
    var returnPrevious = false
    /// SET: `.never` unless EX, PX, EXAT, PXAT or KEEPTTL; GETEX: nil unless one of those
    /// or PERSIST (a GETEX without options is a GET).
    var expiry: Expiry?

    enum Command {
        case set
        case getex
    }

    /// Reads the options from `arguments[start...]`.
    init(_ arguments: CommandArguments, from start: Int, for command: Command) throws(CommandError) {
        var index = start
        var unit: (word: String, index: Int)?
        var keepTTL = false
        var persist = false
        while index < arguments.count {
            let word = arguments.word(index)
            let hasNext = index + 1 < arguments.count
            switch word {
            case "NX" where command == .set && condition != .ifPresent:
                condition = .ifAbsent
            case "XX" where command == .set && condition != .ifAbsent:
                condition = .ifPresent
            case "GET" where command == .set:
                returnPrevious = true
            case "KEEPTTL" where command == .set && unit == nil:
                keepTTL = true
            case "PERSIST" where command == .getex && unit == nil:
                persist = true
            case "EX", "PX", "EXAT", "PXAT":
                // (A `where` after several patterns would guard the last one alone.)
                guard hasNext, !keepTTL, !persist, unit == nil || unit?.word == word else {
                    throw CommandError(RedisError.syntax)
                }
                index += 1
                unit = (word, index)
            default:
                throw CommandError(RedisError.syntax)
            }
            index += 1
        }
        if let unit {
            // Read once every option is known to be well formed, as Redis does.
            expiry = try Self.expiry(unit.word, try arguments.integer(unit.index), command: arguments.name)
        } else if keepTTL {
            expiry = .keep
        } else if persist {
            expiry = .never
        } else {
            expiry = command == .set ? .never : nil
        }
    }

    /// EX and PX in milliseconds from now, EXAT and PXAT as Unix milliseconds. Zero,
    /// negative, or beyond a 64-bit millisecond clock is "invalid expire time".
    static func expiry(_ unit: String, _ amount: Int64, command: String) throws(CommandError) -> Expiry {
        let inSeconds = unit == "EX" || unit == "EXAT"
        guard amount > 0, !inSeconds || amount <= Int64.max / 1000 else {
            throw CommandError(RedisError.invalidExpireTime(command))
        }
        return try ExpiryCommands.expiry(
            millis: inSeconds ? amount * 1000 : amount, relative: unit == "EX" || unit == "PX", command: command)
    }
}
