import ArgumentParser
import KVProtocol
import KVTransport
import NIOCore
import NIOPosix

/// One request to one server itself, not through the monitor (`server-info`, the adopt
/// step of `revive`): a connection of its own, authenticated when a secret is set.
/// Failures print what went wrong and exit as kvctl does: 1 for authentication, 2 for a
/// server that does not answer.
enum DirectServerRequest {
    static func ask(_ server: String, _ message: Message, options: ClientOptions) async throws -> Message {
        let timeout = TimeAmount.nanoseconds(Int64((options.givenTimeout ?? 5) * 1e9))
        let secret = try options.loadSecret()
        let tls = try options.loadTLS()
        do {
            let connection = try await KVConnection.connect(
                to: server, group: MultiThreadedEventLoopGroup.singleton, timeout: timeout, secret: secret, tls: tls
            ).get()
            defer { connection.close() }
            return try await connection.request(message, timeout: timeout).get()
        } catch let error as TransportError where error.isAuthenticationFailure {
            Output.error("authentication failed: \(error)")
            throw ExitCode.failure
        } catch TransportError.peerError(_, let message) {
            Output.error("server \(server) refused: \(message)")
            throw ExitCode.failure
        } catch {
            Output.error("server \(server) does not answer: \(error)")
            throw ExitCode(ExitStatus.timedOut)
        }
    }
}
