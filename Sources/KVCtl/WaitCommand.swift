import ArgumentParser
import KVClient
import KVProtocol
import NIOCore

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until the service is ready: an acknowledged view with a live primary.",
        discussion: """
            For scripts and ExecStartPost=-style orchestration. With --backup, also wait for a live \
            backup. Exit 0 when ready; exit 2 if it is not ready within --timeout (30 s; 0 waits for ever).
            """)

    @OptionGroup var options: ClientOptions
    @Flag(help: "Wait until the service is ready (the default and only condition).") var ready = false
    @Flag(help: "Also wait for a live backup holding the state.") var backup = false

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        let deadline = options.deadline
        while true {
            if let answer = try? await client.servers(deadline: NIODeadline.now() + .seconds(1)),
                Self.isReady(answer.view, answer.servers, needBackup: backup)
            {
                let view = answer.view
                Output.line(
                    "ready: view \(view.viewnum), primary \(view.primary)"
                        + (view.backup.isEmpty ? "" : ", backup \(view.backup)"))
                return
            }
            if let deadline, NIODeadline.now() >= deadline {
                Output.error("not ready before the timeout")
                throw ExitCode(ExitStatus.timedOut)
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
    }

    static func isReady(_ view: View, _ servers: [ServerInfo], needBackup: Bool) -> Bool {
        let alive = Set(servers.filter(\.alive).map(\.address))
        guard !view.primary.isEmpty, view.acked, alive.contains(view.primary) else { return false }
        return !needBackup || (!view.backup.isEmpty && alive.contains(view.backup))
    }
}
