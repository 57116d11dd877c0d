import KVProtocol

/// A reply of the Redis serialization protocol, independent of the version a connection
/// speaks: the encoder writes each case in RESP2 or RESP3 (`RESPProtocol`).
///
/// RESP3 has types RESP2 lacks; in RESP2 a map is sent as a flat array of keys and values,
/// a double and a verbatim string as bulk strings, and the two nulls keep the forms Redis 2
/// clients expect (`$-1` for a missing value, `*-1` for an aborted transaction).
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
    /// No value (a GET of a missing key): `$-1` in RESP2, `_` in RESP3.
    case null
    /// No array (EXEC of a transaction whose watched keys changed): `*-1` in RESP2, `_`
    /// in RESP3.
    case nullArray
    /// `*n` and n values.
    case array([RESPValue])
    /// `%n` and n pairs in RESP3 (HELLO, CONFIG GET); a flat array of 2n values in RESP2.
    case map([Pair])
    /// `,text` in RESP3; a bulk string of the same text in RESP2. No command kvservice
    /// serves answers one in Redis 7 (INCRBYFLOAT answers a bulk string in both versions),
    /// but a client reading RESP3 must meet them where Redis would send them.
    case double(Double)
    /// `=n` and `txt:` followed by text in RESP3 (INFO); a bulk string of the text in RESP2.
    case verbatim(String)

    public struct Pair: Equatable, Sendable {
        public var key: RESPValue
        public var value: RESPValue

        public init(_ key: RESPValue, _ value: RESPValue) {
            self.key = key
            self.value = value
        }
    }

    public static let ok = RESPValue.simpleString("OK")

    /// A bulk string holding `text` as UTF-8.
    public static func bulk(_ text: String) -> RESPValue { .bulkString(Bytes(text.utf8)) }

    /// A map whose keys are bulk strings, in this order.
    public static func map(_ pairs: KeyValuePairs<String, RESPValue>) -> RESPValue {
        .map(pairs.map { Pair(.bulk($0.key), $0.value) })
    }

    /// A bulk string, or null for nil.
    public static func bulkOrNull(_ bytes: Bytes?) -> RESPValue {
        bytes.map { .bulkString($0) } ?? .null
    }
}
