import ArgumentParser
import KVClient
import KVProtocol
import NIOCore

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print the view, then one line (or JSON object) per change, until interrupted.",
        discussion: """
            Polls the monitor every 100 ms. A change is a new view number or the acknowledgement \
            of the current view; changes closer together than a poll show as one. When the \
            monitor does not answer, a line on stderr says so once, and watching goes on. \
            --timeout applies only when given.
            """)

    @OptionGroup var options: ClientOptions
    @Flag(help: "Print JSON objects, one per line.") var json = false
    @Option(help: "Exit after this many changes (the first view printed does not count).")
    var maxChanges: Int?

    func validate() throws {
        if let maxChanges, maxChanges < 1 { throw ValidationError("--max-changes must be at least 1") }
    }

    func run() async throws {
        let client = try options.makeClient()
        defer { client.close() }
        var last: View?
        var changes = 0
        var monitorLost = false
        // Until interrupted, unless a --timeout says otherwise.
        let deadline = options.explicitDeadline
        while true {
            if let deadline, NIODeadline.now() >= deadline { return }
            do {
                let view = try await client.view(deadline: NIODeadline.now() + .seconds(1))
                monitorLost = false
                if view != last {
                    print(view)
                    if last != nil { changes += 1 }
                    last = view
                    if let maxChanges, changes >= maxChanges { return }
                }
            } catch {
                if !monitorLost {
                    Output.error("\(options.monitorDescription): none answers; still watching")
                    monitorLost = true
                }
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
    }

    private func print(_ view: View) {
        if json {
            Output.line(
                JSON.object([
                    ("viewnum", "\(view.viewnum)"), ("primary", JSON.string(view.primary)),
                    ("backup", JSON.string(view.backup)), ("acked", "\(view.acked)"),
                ]))
        } else {
            Output.line(
                "view \(view.viewnum): primary \(view.primary.isEmpty ? "-" : view.primary), "
                    + "backup \(view.backup.isEmpty ? "-" : view.backup)"
                    + (view.acked ? " (acknowledged)" : " (not yet acknowledged)"))
        }
    }
}
