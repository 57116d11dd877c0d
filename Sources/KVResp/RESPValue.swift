import KVProtocol

/// A value of the Redis serialization protocol, version 2 (RESP2): what a server answers.
///
/// RESP2 has no map or null type of its own: a map is sent as a flat array of keys and
/// values, and "no value" as a bulk string of length -1 (`null`).
public enum RESPValue: Equatable, Sendable {
    /// `+text`: a short status such as `OK` or `PONG`.
    case simpleString(String)
    /// `-KIND text`: an error; by convention the first word names its kind (`ERR`,
    /// `TRYAGAIN`, `NOPROTO`).
    case error(String)
    /// `:n`
    case integer(Int64)
    /// `$n` and n bytes: binary-safe data.
    case bulkString(Bytes)
    /// `$-1`: no value (a GET of a missing key).
    case null
    /// `*n` and n values.
    case array([RESPValue])

    public static let ok = RESPValue.simpleString("OK")

    /// A bulk string holding `text` as UTF-8.
    public static func bulk(_ text: String) -> RESPValue { .bulkString(Bytes(text.utf8)) }
}
