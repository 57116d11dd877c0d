import KVProtocol

/// Redis 7's error replies, word for word: client libraries recognise errors by their
/// text (redis-py maps "ERR value is not an integer or out of range" to a DataError, and
/// EXECABORT to an ExecAbortError), so none of these may be reworded.
enum RedisError {
    static let syntax = RESPValue.error("ERR syntax error")
    static let notInteger = RESPValue.error("ERR value is not an integer or out of range")
    static let notFloat = RESPValue.error("ERR value is not a valid float")
    static let invalidCursor = RESPValue.error("ERR invalid cursor")
    static let execWithoutMulti = RESPValue.error("ERR EXEC without MULTI")
    static let discardWithoutMulti = RESPValue.error("ERR DISCARD without MULTI")
    static let nestedMulti = RESPValue.error("ERR MULTI calls can not be nested")
    static let watchInsideMulti = RESPValue.error("ERR WATCH inside MULTI is not allowed")
    static let execAbort = RESPValue.error("EXECABORT Transaction discarded because of previous errors.")
    static let decrementOverflow = RESPValue.error("ERR decrement would overflow")
    static let wrongPassword = RESPValue.error("WRONGPASS invalid username-password pair or user is disabled.")
    static let noAuthentication = RESPValue.error("NOAUTH Authentication required.")
    static let unsupportedProtocol = RESPValue.error("NOPROTO unsupported protocol version")

    static func arity(_ name: String) -> RESPValue {
        .error("ERR wrong number of arguments for '\(name.lowercased())' command")
    }

    static func unknownCommand(_ name: Bytes, _ arguments: ArraySlice<Bytes>) -> RESPValue {
        let shown = arguments.prefix(8).map { "'\(RESPCommand.shown($0))' " }.joined()
        return .error("ERR unknown command '\(RESPCommand.shown(name))', with args beginning with: \(shown)")
    }

    static func invalidExpireTime(_ name: String) -> RESPValue {
        .error("ERR invalid expire time in '\(name.lowercased())' command")
    }

    /// A transaction operation's failure; `TxnError`'s descriptions are Redis's texts.
    static func failed(_ error: TxnError) -> RESPValue { .error("ERR \(error)") }

    /// A key beyond what any kvservice client may store: the text the plain path's
    /// `invalid` reply carries, so SET answers the same whichever path it takes.
    static func keyTooLarge(_ size: Int) -> RESPValue {
        .error("ERR key of \(size) bytes exceeds the limit of \(Limits.maxKeySize)")
    }
}

/// An argument that makes a command fail before anything is sent: its reply is the
/// error. Thrown by the argument readers, caught where the command is built.
struct CommandError: Error {
    var reply: RESPValue

    init(_ reply: RESPValue) { self.reply = reply }
}
