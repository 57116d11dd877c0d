import ArgumentParser

/// kvctl: data and admin commands for kvservice.
public struct KVCtlCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kvctl",
        abstract: "Read and write kvservice data and inspect the cluster.",
        discussion: """
            Exit status: 0 success; 1 key absent (get), degraded (status, monitors), or a failed command; \
            2 timed out (--timeout) or service down (status, monitors); 64 usage error.
            """,
        subcommands: [
            GetCommand.self, PutCommand.self, PutHashCommand.self, DeleteCommand.self, IncrCommand.self,
            TTLCommand.self, PersistCommand.self, MGetCommand.self, ScanCommand.self, TxnCommand.self, ViewCommand.self,
            ServersCommand.self, StatusCommand.self, WatchCommand.self, WaitCommand.self, ServerInfoCommand.self,
            SwitchoverCommand.self, ReviveCommand.self, MonitorsCommand.self, BenchCommand.self,
        ])

    /// Accepted before the command name too (`kvctl --timeout 2 status`): ArgumentParser
    /// hands options given to a parent to a subcommand that declares the same group.
    @OptionGroup var options: ClientOptions

    public init() {}
}
