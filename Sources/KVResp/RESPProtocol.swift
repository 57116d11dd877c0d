/// The version of the Redis protocol a connection speaks: RESP2 until the client sends
/// `HELLO 3`, and again after `HELLO 2`. A reply is written in the version in force when
/// its command ran, so replies to commands pipelined before a HELLO keep the old one.
public enum RESPProtocol: Int64, Sendable {
    case resp2 = 2
    case resp3 = 3
}

/// One reply and the version to write it in: what the connection handler keeps until the
/// replies before it are out, then encodes into its output buffer.
public struct RESPReply: Equatable, Sendable {
    public var value: RESPValue
    public var version: RESPProtocol

    public init(_ value: RESPValue, _ version: RESPProtocol) {
        self.value = value
        self.version = version
    }
}
