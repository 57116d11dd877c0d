import KVProtocol
import KVServices

/// A kv-server's node serves the Redis-protocol endpoint: data commands take the path of
/// every client request (`ServerNode.submit`), state comes from its summary.
extension ServerNode: RESPBackend {
    public func currentRESPState() async -> RESPServerState? {
        guard let summary = await currentSummary() else { return nil }
        return RESPServerState(
            address: configuration.advertise, role: summary.role, serving: summary.serving, view: summary.view,
            backupSynchronized: summary.backupSynchronized, keys: summary.keys)
    }
}
