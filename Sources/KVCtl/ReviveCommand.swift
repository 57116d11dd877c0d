import ArgumentParser
import KVClient
import KVProtocol
import KVTransport
import NIOCore

struct ReviveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revive",
        abstract: "Make a server primary with whatever it holds, accepting the loss of what it lacks.",
        discussion: """
            The way out when the service is down and the monitor cannot revive a member of the view \
            by itself: the primary is down or restarted, its backup cannot be promoted, and no member \
            restarted with a data directory proving it holds every acknowledged update (the monitor \
            logs whom it waits for, and kvctl status shows it). kvctl tells HOST:PORT to adopt the data \
            it holds, then asks the monitor to make it primary of the next view; the other member of \
            the view, or an idle server, becomes its backup and receives that state. Updates the \
            server lacks are lost for good. Refused while a primary serves, a backup can be \
            promoted, or the primary of a view not yet acknowledged is alive (it may be transferring \
            the state: stop or restart it first if it is stuck). Exit 0 done; 1 refused (the \
            monitor's reason is printed); 2 not done before --timeout (default 30).
            """)

    @OptionGroup var options: ClientOptions
    @Argument(help: "The server to make primary (HOST:PORT); it must be pinging the monitor.") var server: String
    @Flag(help: "Required: you accept that acknowledged updates the server lacks are lost.") var acceptDataLoss = false
    @Flag(help: "Return once the new view is made, without waiting for its acknowledgement.") var noWait = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard PeerAddress(server) != nil else { throw ValidationError("\"\(server)\" is not HOST:PORT") }
        guard acceptDataLoss else {
            throw ValidationError(
                "revive serves whatever \(server) holds and loses what it lacks: add --accept-data-loss to say so")
        }
    }

    func run() async throws {
        let adopted = try await DirectServerRequest.ask(server, .adoptData, options: options)
        guard case .serverInfoReply(let stats) = adopted else {
            Output.error("server \(server) sent an unexpected reply")
            throw ExitCode.failure
        }
        if stats.serving {
            Output.error("\(server) already serves view \(stats.view.viewnum): nothing to revive")
            throw ExitCode.failure
        }
        let client = try options.makeClient()
        defer { client.close() }
        // --timeout (30 s by default); 0: for ever.
        let deadline = options.deadline ?? .distantFuture
        let (from, to) = try await withClientErrors {
            try await ViewChangeRequest.carryOut("revive", client, deadline: deadline) { current in
                try await client.revive(server, from: current.viewnum, deadline: deadline)
            }
        }
        var view = to
        if !noWait {
            view = try await withClientErrors {
                try await ViewChangeRequest.acknowledgement(
                    of: to, client, deadline: deadline, hint: " (is \(server) still pinging?)")
            }
        }
        if json {
            Output.line(
                JSON.object([
                    ("viewnum", "\(view.viewnum)"), ("primary", JSON.string(view.primary)),
                    ("backup", JSON.string(view.backup)), ("acked", "\(view.acked)"),
                    ("previous_viewnum", "\(from.viewnum)"), ("keys", "\(stats.keys)"),
                ]))
        } else {
            Output.line(
                "revived: view \(view.viewnum), primary \(view.primary) with \(stats.keys) keys, backup "
                    + (view.backup.isEmpty ? "-" : view.backup)
                    + (view.acked ? " (acknowledged)" : " (not yet acknowledged)"))
        }
    }
}
