import ArgumentParser
import KVTransport

/// kv-server's Redis-protocol flag.
public struct RESPOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Serve the Redis protocol (RESP2) at HOST:PORT (default: off).",
            discussion: "GET, SET, DEL, EXISTS and a few more, through the same replication path."))
    public var respListen: String?

    public init() {}

    public func validate() throws {
        if let respListen, PeerAddress(respListen) == nil {
            throw ValidationError("--resp-listen: \"\(respListen)\" is not HOST:PORT")
        }
    }

    /// `--resp-listen`, validated.
    public var address: PeerAddress? { respListen.flatMap(PeerAddress.init) }
}
