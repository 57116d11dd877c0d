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
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            Output.line(
                zip(row, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ")
                    .trimmingTrailingSpaces())
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "One-line health: exit 0 healthy, 1 degraded, 2 down.",
        discussion: """
            Healthy: a live primary and a live backup in an acknowledged view. Degraded: a live \
            primary, but no backup, a dead backup, or a view not yet acknowledged. Down: no \
            primary, a dead primary, or no answer from the monitor.
            """)

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        let answer: (view: View, servers: [ServerInfo])
        do {
            answer = try await client.servers(deadline: options.deadline ?? NIODeadline.now() + .seconds(3))
        } catch {
            Output.line("down: monitor \(options.monitorAddress) does not answer (\(error))")
            throw ExitCode(2)
        }
        let (view, servers) = answer
        let alive = Set(servers.filter(\.alive).map(\.address))
        let summary = "view \(view.viewnum), primary \(show(view.primary)), backup \(show(view.backup))"
        if view.primary.isEmpty || !alive.contains(view.primary) {
            Output.line("down: \(view.primary.isEmpty ? "no primary" : "primary is not pinging") (\(summary))")
            throw ExitCode(2)
        }
        var problems: [String] = []
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
