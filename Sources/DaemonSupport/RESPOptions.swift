import ArgumentParser
import KVTransport

/// kv-server's Redis-protocol flag.
public struct RESPOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Serve the Redis protocol (RESP2; RESP3 after HELLO 3) at HOST:PORT (default: off).",
            discussion:
                "Strings with expiry, counters, keys, SCAN and MULTI/EXEC/WATCH, through the same replication path."),
        transform: PeerAddress.parse)
    public var respListen: PeerAddress?

    public init() {}

    /// `--resp-listen`.
    public var address: PeerAddress? { respListen }
}
