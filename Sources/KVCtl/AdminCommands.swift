import ArgumentParser
import KVClient
import KVProtocol
import NIOCore

private func show(_ address: String) -> String { address.isEmpty ? "-" : address }

struct ViewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "view", abstract: "Show the monitor's current view.")

    @OptionGroup var options: ClientOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        let view = try await withClientErrors { try await client.view(deadline: options.deadline) }
        if json {
            Output.line(
                JSON.object([
                    ("viewnum", "\(view.viewnum)"), ("primary", JSON.string(view.primary)),
                    ("backup", JSON.string(view.backup)), ("acked", "\(view.acked)"),
                ]))
        } else {
            Output.line(
                "view \(view.viewnum): primary \(show(view.primary)), backup \(show(view.backup))"
                    + (view.acked ? " (acknowledged)" : " (not yet acknowledged)"))
        }
    }
}

struct ServersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "servers", abstract: "List every server the monitor knows: role, last ping, view number.")

    @OptionGroup var options: ClientOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        let (view, servers) = try await withClientErrors { try await client.servers(deadline: options.deadline) }
        if json {
            let items = servers.map { server in
                JSON.object([
                    ("address", JSON.string(server.address)), ("role", JSON.string("\(server.role)")),
                    ("alive", "\(server.alive)"), ("last_ping_ms", "\(server.lastPingAgeMillis)"),
                    ("viewnum", "\(server.viewnum)"),
                    ("acknowledged", "\(server.role == .primary && view.acked)"),
                ])
            }
            Output.line(
                JSON.object([
                    ("viewnum", "\(view.viewnum)"), ("acked", "\(view.acked)"),
                    ("servers", "[" + items.joined(separator: ", ") + "]"),
                ]))
            return
        }
        Output.line("view \(view.viewnum)" + (view.acked ? " (acknowledged)" : " (not yet acknowledged)"))
        let rows =
            [["ADDRESS", "ROLE", "STATE", "LAST PING", "VIEWNUM"]]
            + servers.map { server in
                [
                    server.address, "\(server.role)", server.alive ? "alive" : "dead",
                    "\(server.lastPingAgeMillis)ms ago", "\(server.viewnum)",
                ]
            }
        Output.table(rows)
    }
}

struct StatusCommand: AsyncParsableCommand {
    /// What the deciding monitor says it waits for (docs/DESIGN.md §3.12), if it says.
    private func waitingFor(_ client: KVClient) async -> String? {
        for address in options.monitorAddresses {
            let timeout = TimeAmount.nanoseconds(Int64(min(options.givenTimeout ?? 2, 2) * 1e9))
            if case .monitorInfoReply(let status)? = try? await client.ask(
                monitor: address, .monitorInfo, timeout: timeout),
                status.decides
            {
                return status.waitingFor
            }
        }
        return nil
    }

    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "One-line health: exit 0 healthy, 1 degraded, 2 down.",
        discussion: """
            Healthy: a live primary and a live backup in an acknowledged view. Degraded: a live \
            primary, but no backup, a dead backup, or a view not yet acknowledged; with several \
            monitors, also a monitor that does not answer or cannot reach its store, or no monitor \
            leading. Down: no \
            primary, a dead primary, or no answer from any monitor.
            """)

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        // With several monitors, the control plane first: each monitor's own report, so a
        // monitor down or no leader shows even while the servers are fine. One monitor
        // is the service as it always was: its answer below says all.
        var problems: [String] = []
        let addresses = options.monitorAddresses
        if addresses.count > 1 {
            let survey = await MonitorSurvey.take(
                addresses, client: client, timeout: .nanoseconds(Int64(min(options.givenTimeout ?? 2, 2) * 1e9)))
            if survey.reachable.isEmpty {
                Output.line("down: no monitor answers (\(addresses.joined(separator: ", ")))")
                throw ExitCode(2)
            }
            problems = survey.problems + survey.storeProblems
            if survey.deciding.isEmpty {
                // Nobody to list the servers: the view some monitor last held, for the
                // operator; the servers keep serving it, but no failure can be handled.
                let view = survey.reachable.compactMap(\.view).max { $0.viewnum < $1.viewnum }
                let summary = view.map {
                    ", last view \($0.viewnum), primary \(show($0.primary)), backup \(show($0.backup))"
                }
                Output.line("degraded: \(problems.joined(separator: ", "))\(summary ?? "")")
                throw ExitCode(1)
            }
        }
        let answer: (view: View, servers: [ServerInfo])
        do {
            // Its own bound (3 s) unless one is given: "down" is an answer, not a failure.
            let seconds = options.givenTimeout ?? 3
            answer = try await client.servers(deadline: NIODeadline.now() + .nanoseconds(Int64(seconds * 1e9)))
        } catch {
            Output.line(
                "down: \(options.monitorDescription) \(addresses.count == 1 ? "does" : "do") not answer (\(error))")
            throw ExitCode(2)
        }
        let (view, servers) = answer
        let alive = Set(servers.filter(\.alive).map(\.address))
        let summary = "view \(view.viewnum), primary \(show(view.primary)), backup \(show(view.backup))"
        // A monitor waiting for a member of the view to come back with its data serves
        // nothing, even with every server pinging (a restarted primary pings too).
        if let waiting = await waitingFor(client), !waiting.isEmpty {
            Output.line("down: \(([waiting] + problems).joined(separator: ", ")) (\(summary))")
            throw ExitCode(2)
        }
        if view.primary.isEmpty || !alive.contains(view.primary) {
            let reason = view.primary.isEmpty ? "no primary" : "primary is not pinging"
            Output.line("down: \(([reason] + problems).joined(separator: ", ")) (\(summary))")
            throw ExitCode(2)
        }
        if view.backup.isEmpty {
            problems.append("no backup")
        } else if !alive.contains(view.backup) {
            problems.append("backup is not pinging")
        }
        if !view.acked { problems.append("view not yet acknowledged") }
        if problems.isEmpty {
            Output.line("healthy: \(summary)")
        } else {
            Output.line("degraded: \(problems.joined(separator: ", ")) (\(summary))")
            throw ExitCode(1)
        }
    }
}

struct MonitorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitors",
        abstract: "Ask every configured monitor its role, the leader it knows and its view.",
        discussion: """
            Asks each monitor of --monitor at once, each for at most --timeout seconds (default 2). \
            Exit 0 when every monitor answers and exactly one leads (a sole monitor leads), 1 when \
            degraded (some monitor does not answer, none leads, or several do), 2 when none answers. \
            A monitor older than this request counts as leading when it is the only one (role \
            "unknown"). In JSON, viewnum, role and store_reachable are null for a monitor that does \
            not answer.
            """)

    @OptionGroup var options: ClientOptions
    @Flag(help: "Print JSON: a list of {address, reachable, leader, viewnum, role, store_reachable}.")
    var json = false

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        let addresses = options.monitorAddresses
        let survey = await MonitorSurvey.take(
            addresses, client: client, timeout: .nanoseconds(Int64((options.givenTimeout ?? 2) * 1e9)))
        let alone = addresses.count == 1
        // Why each unreachable monitor is, on stderr whatever the format.
        for report in survey.reports {
            if case .unreachable(let problem) = report.answer { Output.error("\(report.address): \(problem)") }
        }
        if json {
            let items = survey.reports.map { report in
                JSON.object([
                    ("address", JSON.string(report.address)), ("reachable", "\(report.reachable)"),
                    ("leader", "\(report.decides(alone: alone))"),
                    ("viewnum", report.view.map { "\($0.viewnum)" } ?? "null"),
                    ("role", report.role.map(JSON.string) ?? "null"),
                    ("store_reachable", report.storeReachable.map { "\($0)" } ?? "null"),
                ])
            }
            Output.line("[" + items.joined(separator: ", ") + "]")
        } else {
            let rows =
                [["ADDRESS", "REACHABLE", "ROLE", "LEADER", "VIEWNUM", "STORE"]]
                + survey.reports.map { report in
                    [
                        report.address, report.reachable ? "yes" : "no", report.role ?? "-", show(report.namedLeader),
                        report.view.map { "\($0.viewnum)" } ?? "-",
                        report.storeReachable.map { $0 ? "reachable" : "unreachable" } ?? "-",
                    ]
                }
            Output.table(rows)
            let problems = survey.problems
            let notes = survey.storeProblems.map { "; \($0)" }.joined()
            Output.line(
                survey.exitStatus == 2
                    ? "down: no monitor answers"
                    : (problems.isEmpty ? "healthy" : "degraded: \(problems.joined(separator: ", "))") + notes)
        }
        if survey.exitStatus != 0 { throw ExitCode(survey.exitStatus) }
    }
}
