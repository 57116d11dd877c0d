import ArgumentParser
import KVTransport

/// The connection limit both daemons take.
public struct ConnectionOptions: ParsableArguments {
    @Option(help: "Connections accepted at once; more are told \"overloaded\" and closed.")
    public var maxConnections: Int = FrameListener.defaultMaxConnections

    public init() {}

    public func validate() throws {
        guard maxConnections >= 1 && maxConnections <= 1_000_000 else {
            throw ValidationError("--max-connections must be between 1 and 1000000")
        }
    }
}
