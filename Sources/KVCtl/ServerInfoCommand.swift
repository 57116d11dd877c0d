import ArgumentParser
import KVClient
import KVProtocol
import KVTransport
import NIOCore
import NIOPosix

struct ServerInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server-info",
        abstract: "Ask one server directly for its role, view, data and replication counters.",
        discussion: "Talks to the server itself, not the monitor: --monitor is not used.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The server (HOST:PORT).") var server: String
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard PeerAddress(server) != nil else { throw ValidationError("\"\(server)\" is not HOST:PORT") }
    }

    func run() async throws {
        let reply = try await DirectServerRequest.ask(server, .serverInfo, options: options)
        guard case .serverInfoReply(let stats) = reply else {
            Output.error("server \(server) sent an unexpected reply")
            throw ExitCode.failure
        }
        json ? printJSON(stats) : printText(stats)
    }

    private func printText(_ stats: ServerStats) {
        let view = stats.view
        let counters = stats.counters
        var lines: [(String, String)] = [
            ("address", stats.address),
            ("role", "\(stats.role)" + (stats.role == .primary ? (stats.serving ? ", serving" : ", not serving") : "")),
            ("view", "\(view.viewnum) (primary \(show(view.primary)), backup \(show(view.backup)))"),
            ("backup synchronised", stats.role == .primary ? (stats.backupSynchronized ? "yes" : "no") : "-"),
            ("keys", "\(stats.keys)"),
            ("bytes", "\(stats.bytes)"),
            ("duplicate-table clients", "\(stats.duplicates)"),
            ("uptime", "\(stats.uptimeMillis / 1000) s"),
            ("connections", "\(stats.connections)"),
            ("replies waiting for backup", "\(stats.pendingReplies)"),
            ("requests held", "\(stats.deferredRequests)"),
            ("client requests", "\(counters.requests)"),
            ("batches sent / resent", "\(counters.batchesSent) / \(counters.batchesResent)"),
            ("batches applied as backup", "\(counters.batchesApplied)"),
            ("transfers started / completed", "\(counters.transfersStarted) / \(counters.transfersCompleted)"),
            ("transfers received", "\(counters.transfersReceived)"),
            ("keys expired", "\(counters.keysExpired)"),
            ("gets under the read lease", "\(counters.leaseReads)"),
        ]
        if let storage = stats.storage {
            lines += [
                ("data directory", storage.directory),
                ("fsync", storage.fsync),
                ("log bytes since snapshot", "\(storage.logBytes)"),
                ("snapshot bytes", "\(storage.snapshotBytes)"),
                ("log written / synced (LSN)", "\(storage.lastWritten) / \(storage.lastSynced)"),
                ("claim", storage.claim.map { "\($0)" } ?? "none"),
                ("at start", storage.opening),
            ]
        } else {
            lines.append(("data directory", "none (memory only)"))
        }
        let width = lines.map(\.0.count).max() ?? 0
        for (name, value) in lines {
            Output.line(name + ":" + String(repeating: " ", count: width - name.count + 1) + value)
        }
    }

    private func printJSON(_ stats: ServerStats) {
        let counters = stats.counters
        Output.line(
            JSON.object([
                ("address", JSON.string(stats.address)), ("role", JSON.string("\(stats.role)")),
                ("viewnum", "\(stats.view.viewnum)"), ("primary", JSON.string(stats.view.primary)),
                ("backup", JSON.string(stats.view.backup)), ("serving", "\(stats.serving)"),
                ("backup_synchronized", "\(stats.backupSynchronized)"), ("keys", "\(stats.keys)"),
                ("bytes", "\(stats.bytes)"), ("duplicates", "\(stats.duplicates)"),
                ("uptime_ms", "\(stats.uptimeMillis)"), ("connections", "\(stats.connections)"),
                ("pending_replies", "\(stats.pendingReplies)"), ("deferred_requests", "\(stats.deferredRequests)"),
                ("requests", "\(counters.requests)"), ("batches_sent", "\(counters.batchesSent)"),
                ("batches_resent", "\(counters.batchesResent)"), ("batches_applied", "\(counters.batchesApplied)"),
                ("transfers_started", "\(counters.transfersStarted)"),
                ("transfers_completed", "\(counters.transfersCompleted)"),
                ("transfers_received", "\(counters.transfersReceived)"),
                ("keys_expired", "\(counters.keysExpired)"),
                ("lease_reads", "\(counters.leaseReads)"),
                ("storage", stats.storage.map(storageJSON) ?? "null"),
            ]))
    }

    private func storageJSON(_ storage: StorageStats) -> String {
        JSON.object([
            ("data_dir", JSON.string(storage.directory)), ("fsync", JSON.string(storage.fsync)),
            ("log_bytes", "\(storage.logBytes)"), ("snapshot_bytes", "\(storage.snapshotBytes)"),
            ("last_written_lsn", "\(storage.lastWritten)"), ("last_synced_lsn", "\(storage.lastSynced)"),
            (
                "claim",
                storage.claim.map {
                    JSON.object([
                        ("role", JSON.string($0.role == .primary ? "primary" : "backup")), ("viewnum", "\($0.viewnum)"),
                        ("primary", JSON.string($0.primary)), ("backup", JSON.string($0.backup)),
                    ])
                } ?? "null"
            ),
            ("at_start", JSON.string(storage.opening)),
        ])
    }

    private func show(_ address: String) -> String { address.isEmpty ? "-" : address }
}
