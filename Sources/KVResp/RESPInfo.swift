import KVProtocol

/// The INFO reply: Redis's section and field names, so tools that read them (redis-cli,
/// redis-benchmark, monitoring agents) find what they look for, plus kvservice's own
/// fields (`kvservice_*`) where Redis has no word for it.
struct RESPInfo {
    /// The Redis version announced; clients gate features on it, and 7.0 is what the
    /// supported commands and replies correspond to.
    static let redisVersion = "7.0.0"

    static let allSections = ["server", "clients", "replication", "keyspace"]

    var state: RESPServerState
    /// The port the endpoint accepted this connection on.
    var port: Int?
    var uptimeSeconds: Int64
    var connectedClients: Int

    /// The sections asked for (none, "default", "all" or "everything": every one); an
    /// unknown section adds nothing, as in Redis.
    func text(sections asked: [String]) -> String {
        let everything = asked.isEmpty || asked.contains { ["default", "all", "everything"].contains($0) }
        let chosen = Self.allSections.filter { everything || asked.contains($0) }
        return chosen.map { section(named: $0).joined(separator: "\r\n") + "\r\n" }.joined(separator: "\r\n")
    }

    private func section(named name: String) -> [String] {
        switch name {
        case "server":
            return [
                "# Server", "redis_version:\(Self.redisVersion)", "redis_mode:standalone",
                "kvservice_address:\(state.address)", "tcp_port:\(port ?? 0)", "uptime_in_seconds:\(uptimeSeconds)",
            ]
        case "clients":
            return ["# Clients", "connected_clients:\(connectedClients)"]
        case "replication":
            return ["# Replication"] + replication()
        default:
            return ["# Keyspace", "db0:keys=\(state.keys),expires=0,avg_ttl=0"]
        }
    }

    /// Redis knows masters and replicas; a kvservice backup is a replica of its primary,
    /// and an idle server a replica whose link is down (it holds no current data).
    private func replication() -> [String] {
        let view = state.view
        var lines: [String] = []
        if state.role == .primary {
            lines.append("role:master")
            if view.backup.isEmpty {
                lines.append("connected_slaves:0")
            } else {
                let (host, port) = Self.split(view.backup)
                lines.append("connected_slaves:1")
                let link = state.backupSynchronized ? "online" : "wait_bgsave"
                lines.append("slave0:ip=\(host),port=\(port),state=\(link),offset=0,lag=0")
            }
        } else {
            lines.append("role:slave")
            let (host, port) = Self.split(view.primary)
            lines.append("master_host:\(host)")
            lines.append("master_port:\(port)")
            lines.append("master_link_status:\(state.role == .backup ? "up" : "down")")
            lines.append("connected_slaves:0")
        }
        lines.append("kvservice_role:\(state.role)")
        lines.append("kvservice_serving:\(state.serving ? 1 : 0)")
        lines.append("kvservice_view:\(view.viewnum)")
        lines.append("kvservice_view_primary:\(view.primary.isEmpty ? "-" : view.primary)")
        lines.append("kvservice_view_backup:\(view.backup.isEmpty ? "-" : view.backup)")
        return lines
    }

    /// "host:port" (or "[v6]:port") into its parts; "" gives ("", "0").
    private static func split(_ address: String) -> (host: String, port: String) {
        guard let colon = address.lastIndex(of: ":") else { return (address, "0") }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, String(address[address.index(after: colon)...]))
    }
}
