import ArgumentParser
import KVClient
import KVProtocol

struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print the value of KEY (exit 1 if it does not exist).")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The key.") var key: String

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        let value = try await withClientErrors { try await client.get(Bytes(utf8: key), deadline: options.deadline) }
        guard let value else {
            Output.error("key \"\(key)\" does not exist")
            throw ExitCode(ExitStatus.absent)
        }
        Output.out(value)
        Output.line("")
    }
}

struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Set KEY to VALUE.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value; \"-\" reads it from standard input (any bytes, up to 4 MiB).") var value: String

    func run() async throws {
        let bytes = try ValueArgument.bytes(value)
        let client = try options.makeClient()
        defer { client.close() }
        try await withClientErrors {
            try await client.put(Bytes(utf8: key), bytes, deadline: options.deadline)
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
