import ArgumentParser
import KVClient
import KVProtocol
import KVTransport
import NIOCore

struct IncrCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incr",
        abstract: "Add BY (default 1) to KEY's value read as a decimal integer and print the new value.",
        discussion: """
            A missing key counts as 0; the key keeps its deadline. Exit 1 if the value is not a 64-bit \
            integer or the sum would overflow.
            """)

    @OptionGroup var options: ClientOptions
    @Argument(help: "The key.") var key: String
    // Taken as it comes, so that a negative amount is not mistaken for an option.
    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp("The amount to add (a 64-bit integer; default 1).", valueName: "by"))
    var amount: [String] = []

    /// The amount's text ("--" aside, which `.allUnrecognized` passes on).
    private var given: [String] { amount.filter { $0 != "--" } }

    var by: Int64 { given.first.flatMap { Int64($0) } ?? 1 }

    func validate() throws {
        for text in given where text.hasPrefix("-") && Int64(text) == nil {
            throw ValidationError("unknown option '\(text)'")
        }
        guard given.count <= 1 else { throw ValidationError("unexpected argument '\(given[1])'") }
        if let text = given.first, Int64(text) == nil {
            throw ValidationError("\"\(text)\" is not a 64-bit integer")
        }
    }

    func run() async throws {
        let value = try await options.withClient { try await $0.increment(Bytes(utf8: key), by: by, deadline: $1) }
        Output.line("\(value)")
    }
}

struct TTLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ttl",
        abstract: "Print the milliseconds KEY has left, or \"none\" if it has no deadline (exit 1 if absent).")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The key.") var key: String

    func run() async throws {
        switch try await options.withClient({ try await $0.ttl(Bytes(utf8: key), deadline: $1) }) {
        case .absent: throw absent(key)
        case .noDeadline: Output.line("none")
        case .remaining(let milliseconds): Output.line("\(milliseconds)")
        }
    }
}

struct PersistCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "persist",
        abstract: "Remove KEY's deadline, if it has one (exit 1 if the key does not exist).")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The key.") var key: String

    func run() async throws {
        let before = try await options.withClient { try await $0.persist(Bytes(utf8: key), deadline: $1) }
        if before == .absent { throw absent(key) }
    }
}

struct MGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mget",
        abstract: "Print the values of several keys, one a line (exit 1 if one does not exist).",
        discussion: """
            Values print as safe text (control characters and bytes that are not UTF-8 escaped); an \
            absent key prints an empty line and is named on standard error. With --json, a list with \
            an object per key as get --json prints, or null. Up to 256 keys are read at one point in \
            time; more are read in groups of 256.
            """)

    @OptionGroup var options: ClientOptions
    @Argument(help: "The keys.") var keys: [String]
    @Flag(help: "Print a JSON list.") var json = false

    func run() async throws {
        let entries = try await options.withClient { try await $0.mget(keys.map { Bytes(utf8: $0) }, deadline: $1) }
        if json {
            Output.line(JSON.list(entries.map { $0.map(JSON.entry) ?? JSON.null }))
        } else {
            for entry in entries { Output.line(entry.map { Output.safe($0.value) } ?? "") }
        }
        let missing = zip(keys, entries).filter { $0.1 == nil }.map { "\"\($0.0)\"" }
        if !missing.isEmpty {
            let names = missing.joined(separator: ", ")
            Output.error(missing.count == 1 ? "key \(names) does not exist" : "keys \(names) do not exist")
            throw ExitCode(ExitStatus.absent)
        }
    }
}

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Print the keys beginning with PREFIX (all keys by default), in key order, one a line.",
        discussion: """
            Keys print as safe text; with --json, one object a line as get --json prints (values \
            included). Pages of keys are fetched and printed one after another, never all at once: a \
            key that exists throughout the scan is printed once, one written meanwhile may or may not \
            be. --timeout bounds each page.
            """)

    @OptionGroup var options: ClientOptions
    @Argument(help: "Only keys beginning with this.") var prefix: String = ""
    @Option(help: "Print at most N keys.") var limit: Int?
    @Option(help: "Only keys matching this glob pattern (*, ?, [abc], \\x).") var match: String?
    @Option(help: "Keys looked at per request (1 to \(KeyRange.maxLimit)).") var pageSize = 1000
    @Flag(help: "Print one JSON object a line, with values.") var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        guard (1...KeyRange.maxLimit).contains(pageSize) else {
            throw ValidationError("--page-size must be 1 to \(KeyRange.maxLimit)")
        }
    }

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        let seconds = options.timeout ?? ClientOptions.defaultTimeout
        let timeout = seconds == 0 ? nil : TimeAmount.nanoseconds(Int64(seconds * 1e9))
        let (prefix, pattern) = (Bytes(utf8: prefix), match.map { Bytes(utf8: $0) })
        try await withClientErrors {
            if json {
                let scan = client.scan(
                    prefix: prefix, pattern: pattern, limit: limit, pageSize: pageSize, pageTimeout: timeout)
                for try await entry in scan { Output.line(JSON.entry(entry)) }
            } else {
                let scan = client.scanKeys(
                    prefix: prefix, pattern: pattern, limit: limit, pageSize: pageSize, pageTimeout: timeout)
                for try await key in scan { Output.line(Output.safe(key)) }
            }
        }
    }
}

struct TxnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "txn",
        abstract: "Run a transaction read as JSON from FILE (or standard input) and print its outcome as JSON.",
        discussion: """
            The shape follows etcd's: {"compare": [...], "success": [...], "failure": [...]} (kvctl(1), \
            TRANSACTIONS). Exit 0 when the compares held (the success branch ran), 1 when they did not \
            (the failure branch ran; the outcome is printed all the same) or the JSON is not a transaction.
            """)

    @OptionGroup var options: ClientOptions
    @Argument(help: "The file; standard input when absent or \"-\".") var file: String = "-"

    func run() async throws {
        let text = try ValueArgument.file(file, limit: 4 * Limits.maxFrameSize)
        let txn: Txn
        do {
            txn = try TxnJSON.parse(text)
        } catch {
            Output.error("\(file == "-" ? "standard input" : file): \(error)")
            throw ExitCode.failure
        }
        let outcome = try await options.withClient { try await $0.txn(txn, deadline: $1) }
        Output.line(TxnJSON.outcome(outcome, of: txn))
        if !outcome.succeeded {
            Output.error("the compares did not hold: the failure branch ran")
            throw ExitCode.failure
        }
    }
}

/// A duration argument: "10s", "500ms", "2m", "1h"; a bare number is milliseconds.
enum DurationArgument {
    static func parse(_ text: String) throws -> TimeAmount {
        guard let amount = DurationText.parse(text), amount >= .milliseconds(1) else {
            throw ValidationError("\"\(text)\" is not a duration of 1ms or more such as 500ms, 10s or 2m")
        }
        return amount
    }
}

extension JSON {
    /// A key with its value, revision and time left: {"key", "value", "revision",
    /// "expires_in_ms"} (null without a deadline).
    static func entry(_ entry: KVEntry) -> String {
        object(
            bytes("key", entry.key) + bytes("value", entry.value) + [
                ("revision", "\(entry.revision)"), ("expires_in_ms", number(entry.expiresIn)),
            ])
    }
}
