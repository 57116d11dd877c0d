import ArgumentParser

/// kvctl: data and admin commands for kvservice.
public struct KVCtlCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kvctl",
        abstract: "Read and write kvservice data and inspect the cluster.",
        discussion: """
            Exit status: 0 success; 1 key absent (get), degraded (status), or a failed command; \
            2 timed out (--timeout) or service down (status); 64 usage error.
            """,
        subcommands: [
            GetCommand.self, PutCommand.self, PutHashCommand.self, DeleteCommand.self, ViewCommand.self,
            ServersCommand.self, StatusCommand.self,
        ])

    public init() {}
}
