import ArgumentParser
import KVClient
import KVProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print the value of KEY (exit 1 if it does not exist).",
        discussion: """
            The value's bytes as they are, or, on a terminal, as safe text (control characters and \
            bytes that are not UTF-8 escaped). With --json: {"key", "value", "revision", "expires_in_ms"}.
            """)

    @OptionGroup var options: ClientOptions
    @Argument(help: "The key.") var key: String
    @Flag(help: "Print the value with its revision and time left as JSON.") var json = false

    func run() async throws {
        if json {
            let entry = try await options.withClient { try await $0.entry(Bytes(utf8: key), deadline: $1) }
            guard let entry else { throw absent(key) }
            return Output.line(JSON.entry(entry))
        }
        let value = try await options.withClient { try await $0.get(Bytes(utf8: key), deadline: $1) }
        guard let value else { throw absent(key) }
        if isatty(STDOUT_FILENO) == 1 {
            Output.line(Output.safe(value))
        } else {
            Output.out(value)
            Output.line("")
        }
    }
}

/// Says that `key` does not exist; the error to throw: exit status 1.
func absent(_ key: String) -> ExitCode {
    Output.error("key \"\(key)\" does not exist")
    return ExitCode(ExitStatus.absent)
}

struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put", abstract: "Set KEY to VALUE.",
        discussion: """
            With a condition, the put applies only if it holds; otherwise kvctl says so and exits 1. \
            Without --ttl the key has no deadline (any it had is removed).
            """)

    @OptionGroup var options: ClientOptions
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value; \"-\" reads it from standard input (any bytes, up to 4 MiB).") var value: String
    @Option(help: "Delete the key this long after the put (10s, 500ms, 2m, 1h).", transform: DurationArgument.parse)
    var ttl: TimeAmount?
    @Flag(help: "Only if the key does not exist.") var ifAbsent = false
    @Flag(help: "Only if the key exists.") var ifPresent = false
    @Option(help: "Only if the key's revision is N (0: only if it does not exist).") var ifRevision: UInt64?
    @Option(help: "Only if the key's value is V.") var ifValue: String?

    func validate() throws {
        let given = [ifAbsent, ifPresent, ifRevision != nil, ifValue != nil].filter { $0 }.count
        if given > 1 {
            throw ValidationError("give at most one of --if-absent, --if-present, --if-revision, --if-value")
        }
    }

    var condition: PutCondition {
        if ifAbsent { return .ifAbsent }
        if ifPresent { return .ifPresent }
        if let ifRevision { return .ifRevision(ifRevision) }
        if let ifValue { return .ifValue(Bytes(utf8: ifValue)) }
        return .always
    }

    func run() async throws {
        let bytes = try ValueArgument.bytes(value)
        let (name, ttl, condition) = (Bytes(utf8: key), ttl, condition)
        // A plain put stays the protocol's own put, as before transactions.
        guard ttl != nil || condition != .always else {
            return try await options.withClient { try await $0.put(name, bytes, deadline: $1) }
        }
        let applied = try await options.withClient {
            try await $0.put(name, bytes, ttl: ttl, condition: condition, deadline: $1)
        }
        guard applied else {
            Output.error("key \"\(key)\" not set: \(Self.unmet(condition))")
            throw ExitCode.failure
        }
    }

    /// Why a put under `condition` did not apply.
    static func unmet(_ condition: PutCondition) -> String {
        switch condition {
        case .always: "no condition"
        case .ifAbsent: "it exists (--if-absent)"
        case .ifPresent: "it does not exist (--if-present)"
        case .ifRevision(let revision): "its revision is not \(revision) (--if-revision)"
        case .ifValue: "it does not exist or has another value (--if-value)"
        }
    }
}

struct PutHashCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "puthash",
        abstract: "Set KEY to hash(previous value + VALUE) and print the previous value.",
        discussion: "The hash is the decimal 32-bit FNV-1a of the bytes; a missing key counts as empty.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value appended to the previous one before hashing; \"-\" reads standard input.")
    var value: String

    func run() async throws {
        let bytes = try ValueArgument.bytes(value)
        let client = try options.makeClient()
        defer { client.close() }
        let previous = try await withClientErrors {
            try await client.putHash(Bytes(utf8: key), bytes, deadline: options.deadline)
        }
        Output.out(previous)
        Output.line("")
    }
}

struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete KEY (succeeds whether or not it existed).")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The key.") var key: String

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        try await withClientErrors { _ = try await client.delete(Bytes(utf8: key), deadline: options.deadline) }
    }
}
