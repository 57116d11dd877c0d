import ArgumentParser
import KVTransport

/// kv-server's Redis-protocol flag.
public struct RESPOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Serve the Redis protocol (RESP2) at HOST:PORT (default: off).",
            discussion: "GET, SET, DEL, EXISTS and a few more, through the same replication path."),
        transform: PeerAddress.parse)
    public var respListen: PeerAddress?

    public init() {}

    /// `--resp-listen`.
    public var address: PeerAddress? { respListen }
}
