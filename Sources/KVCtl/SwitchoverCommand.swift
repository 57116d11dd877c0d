import ArgumentParser
import KVClient
import KVProtocol
import NIOCore

struct SwitchoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchover",
        abstract: "Hand the primary role to the backup (planned, without failing requests).",
        discussion: """
            The monitor promotes the backup and makes the old primary the new backup, which then \
            receives the whole state again. It does so only once the current view is acknowledged, \
            that is once the backup holds the whole state; until then kvctl asks again every 100 ms. \
            Clients in flight at the old primary are told to retry at the new one. By default kvctl \
            then waits until the new primary has acknowledged the new view (its new backup is \
            synchronised). Exit 0 done; 1 refused (no backup, backup unavailable, --to is not the \
            backup, or the view changed meanwhile); 2 not done before --timeout (default 30).
            """)

    @OptionGroup var options: ClientOptions
    @Option(name: .customLong("to"), help: "Refuse unless this server (HOST:PORT) is the backup that takes over.")
    var target: String?
    @Flag(help: "Return once the new view is made, without waiting for its acknowledgement.") var noWait = false
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        // --timeout (30 s by default); 0: for ever.
        let deadline = options.deadline ?? .distantFuture
        let (from, to) = try await withClientErrors {
            try await ViewChangeRequest.carryOut(
                "switchover", client, deadline: deadline,
                check: { current in
                    if let target, current.backup != target {
                        Output.error("\(target) is not the backup (\(current))")
                        throw ExitCode.failure
                    }
                },
                ask: { current in try await client.switchover(from: current.viewnum, deadline: deadline) })
        }
        var view = to
        if !noWait {
            view = try await withClientErrors {
                try await ViewChangeRequest.acknowledgement(of: to, client, deadline: deadline)
            }
        }
        if json {
            Output.line(
                JSON.object([
                    ("viewnum", "\(view.viewnum)"), ("primary", JSON.string(view.primary)),
                    ("backup", JSON.string(view.backup)), ("acked", "\(view.acked)"),
                    ("previous_viewnum", "\(from.viewnum)"), ("previous_primary", JSON.string(from.primary)),
                ]))
        } else {
            Output.line(
                "switched over: view \(view.viewnum), primary \(view.primary) (was \(from.primary)), backup "
                    + (view.backup.isEmpty ? "-" : view.backup)
                    + (view.acked ? " (acknowledged)" : " (not yet acknowledged)"))
        }
    }
}
