import ArgumentParser
import KVClient
import KVTransport
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Options every kvctl command takes.
struct ClientOptions: ParsableArguments {
    @Option(help: "The monitor (HOST:PORT); default $KV_MONITOR, then 127.0.0.1:7100.")
    var monitor: String?

    @Option(help: "Give up after this many seconds with exit status 2 (default: retry for ever).")
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout > 0 && timeout < 1e9) {
            throw ValidationError("--timeout must be a positive number of seconds")
        }
        guard PeerAddress(monitorAddress) != nil else {
            throw ValidationError("monitor address \"\(monitorAddress)\" is not HOST:PORT")
        }
    }

    var monitorAddress: String {
        monitor ?? getenv("KV_MONITOR").map { String(cString: $0) } ?? "127.0.0.1:7100"
    }

    var deadline: NIODeadline? {
        timeout.map { NIODeadline.now() + .nanoseconds(Int64($0 * 1e9)) }
    }

    func makeClient() -> KVClient {
        KVClient(monitor: monitorAddress)
    }
}

/// Exit statuses documented in kvctl(1).
enum ExitStatus {
    static let absent: Int32 = 1
    static let timedOut: Int32 = 2
}

/// Runs `body`, turning client errors into a message and the documented exit status.
func withClientErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as KVClientError {
        Output.error("\(error)")
        if case .timedOut = error { throw ExitCode(ExitStatus.timedOut) }
        throw ExitCode.failure
    }
}
