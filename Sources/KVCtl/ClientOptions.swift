import ArgumentParser
import KVClient
import KVTLS
import KVTransport
import Logging
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
    @Option(
        help: ArgumentHelp(
            "The monitors (HOST:PORT[,HOST:PORT...]); default $KV_MONITOR, then 127.0.0.1:7100.",
            discussion: "Requests go to one at a time: to the leader, when a follower names it."))
    var monitor: String?

    @Option(help: "Give up after this many seconds with exit status 2; 0 retries for ever (default: 30).")
    var timeout: Double?

    static let defaultTimeout = 30.0

    @Option(
        help:
            "File holding the service's shared secret (default: $KV_SECRET_FILE, then /etc/kvservice/secret if readable)."
    )
    var secretFile: String?

    @Option(
        help: ArgumentHelp(
            "Speak TLS, trusting the CA certificates in this file (PEM); default $KV_TLS_CA.", valueName: "file"))
    var tlsCa: String?

    @Option(
        help: ArgumentHelp(
            "The client certificate to present (PEM), for a service that requires one; default $KV_TLS_CERT.",
            valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The client certificate's private key (PEM); default $KV_TLS_KEY.", valueName: "file"))
    var tlsKey: String?

    func validate() throws {
        if let timeout, !(timeout >= 0 && timeout < 1e9) {
            throw ValidationError("--timeout must be a number of seconds, 0 for no limit")
        }
        do {
            _ = try PeerAddress.list(monitorText)
        } catch {
            throw ValidationError("\(monitor == nil ? "KV_MONITOR" : "--monitor"): \(error)")
        }
    }

    /// The monitors as given: `--monitor`, else `$KV_MONITOR`, else the default.
    private var monitorText: String {
        monitor ?? getenv("KV_MONITOR").map { String(cString: $0) } ?? "127.0.0.1:7100"
    }

    /// The monitors' addresses (as given when they are not a valid list: `validate` has
    /// refused that already).
    var monitorAddresses: [String] {
        (try? PeerAddress.list(monitorText).map(\.description)) ?? [monitorText]
    }

    /// The monitors, for messages.
    var monitorDescription: String {
        let addresses = monitorAddresses
        return addresses.count == 1 ? "monitor \(addresses[0])" : "monitors \(addresses.joined(separator: ","))"
    }

    /// When to give up: `--timeout` (30 s by default) from now, or never with 0.
    var deadline: NIODeadline? {
        let seconds = timeout ?? Self.defaultTimeout
        return seconds == 0 ? nil : NIODeadline.now() + .nanoseconds(Int64(seconds * 1e9))
    }

    /// The `--timeout` given, if not 0: commands whose own bound differs from the data
    /// commands' take theirs otherwise.
    var givenTimeout: Double? { timeout == 0 ? nil : timeout }

    /// Only a `--timeout` given (not 0): for commands that run until interrupted.
    var explicitDeadline: NIODeadline? {
        guard let timeout, timeout > 0 else { return nil }
        return NIODeadline.now() + .nanoseconds(Int64(timeout * 1e9))
    }

    /// The file to read the secret from: the flag, `$KV_SECRET_FILE`, or the package's
    /// file when this user may read it (members of the kvservice group).
    var secretPath: String? {
        if let secretFile { return secretFile }
        if let path = getenv("KV_SECRET_FILE").map({ String(cString: $0) }), !path.isEmpty { return path }
        return access(Self.packageSecretFile, R_OK) == 0 ? Self.packageSecretFile : nil
    }

    static let packageSecretFile = "/etc/kvservice/secret"

    /// The shared secret, or nil without one. A secret file that cannot be used is a
    /// usage error: kvctl says why and exits 1.
    func loadSecret() throws -> SharedSecret? {
        guard let path = secretPath else { return nil }
        do {
            return try SharedSecret.load(path: path)
        } catch {
            Output.error("\(error)")
            throw ExitCode.failure
        }
    }

    /// The TLS files: each flag, else its `KV_TLS_*` variable.
    var tlsFiles: (certificate: String?, key: String?, ca: String?) {
        func environment(_ name: String) -> String? {
            getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        return (
            tlsCert ?? environment("KV_TLS_CERT"), tlsKey ?? environment("KV_TLS_KEY"),
            tlsCa ?? environment("KV_TLS_CA")
        )
    }

    /// TLS to the monitors and servers, or nil for plain TCP (no CA given). Files that
    /// cannot be used are a usage error: kvctl says why and exits 1.
    func loadTLS() throws -> TLSLayer? {
        let files = tlsFiles
        guard let ca = files.ca else {
            guard files.certificate == nil, files.key == nil else {
                Output.error("a client certificate needs the CA to check the service's (--tls-ca or KV_TLS_CA)")
                throw ExitCode.failure
            }
            return nil
        }
        do {
            return try TLSLayer(
                files: TLSFiles(certificate: files.certificate, privateKey: files.key, ca: ca), role: .client,
                logger: Logger(label: "kvctl", factory: { _ in SwiftLogNoOpLogHandler() }))
        } catch {
            Output.error("\(error)")
            throw ExitCode.failure
        }
    }

    func makeClient() throws -> KVClient {
        var configuration = KVClient.Configuration(monitors: monitorAddresses)
        configuration.secret = try loadSecret()
        configuration.tls = try loadTLS()
        // On a terminal, say what it waits for instead of hanging in silence; scripts
        // read the outcome from the exit status and stderr's last line.
        if isatty(STDERR_FILENO) == 1 {
            let reporter = RetryReporter { Output.error($0) }
            configuration.onRetry = { reporter.report($0) }
        }
        return KVClient(configuration: configuration)
    }

    /// Runs `body` with a new client session and the command's deadline, turning client
    /// errors into a message and the documented exit status; closes the session after.
    func withClient<T>(_ body: (KVClient, NIODeadline?) async throws -> T) async throws -> T {
        let client = try makeClient()
        defer { client.close() }
        return try await withClientErrors { try await body(client, deadline) }
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
