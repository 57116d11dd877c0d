import KVProtocol
import KVServices
import NIOCore

/// What the Redis-protocol endpoint needs from a key/value server: `ServerNode` in the
/// daemon, a stand-in in unit tests.
public protocol RESPBackend: Sendable {
    /// Runs a data request through the server's normal client path, so replication and
    /// the backup's confirmation apply as for any client. The future may complete on any
    /// event loop; it fails only when the server has stopped.
    func submit(_ request: ClientRequest) -> EventLoopFuture<ClientReply>

    /// The same, with the reply handed to `sink` (on its loop) under `slot`: the endpoint's
    /// path for every command, where a future, a closure or a task per request would cost
    /// more than the rest of it (scripts/bench, docs/PERFORMANCE.md). The sink may be
    /// answered from inside this call.
    func submit(_ request: ClientRequest, slot: UInt64, to sink: any ClientReplySink)

    /// The server's role, view and key count (INFO, DBSIZE, HELLO, and the error naming
    /// the primary); nil once the server has stopped.
    func currentRESPState() async -> RESPServerState?
}

/// A server's own account of where it stands, as the endpoint reports it.
public struct RESPServerState: Sendable, Equatable {
    /// This server's kvservice address, as the monitor's views name it.
    public var address: String
    public var role: ServerInfo.Role
    /// Whether it answers data requests (primary of the view, holding its data).
    public var serving: Bool
    public var view: View
    /// As primary: whether the backup holds the whole state.
    public var backupSynchronized: Bool
    /// Keys in this server's store.
    public var keys: Int

    public init(
        address: String, role: ServerInfo.Role, serving: Bool, view: View, backupSynchronized: Bool, keys: Int
    ) {
        self.address = address
        self.role = role
        self.serving = serving
        self.view = view
        self.backupSynchronized = backupSynchronized
        self.keys = keys
    }
}

extension RESPBackend {
    /// Through the future, for backends without a path of their own (tests' stand-ins).
    public func submit(_ request: ClientRequest, slot: UInt64, to sink: any ClientReplySink) {
        let loop = sink.eventLoop
        let bound = NIOLoopBound(sink, eventLoop: loop)
        submit(request).hop(to: loop).whenComplete { outcome in
            switch outcome {
            case .success(let reply): bound.value.deliver(reply, slot: slot)
            case .failure: bound.value.abandon(slot: slot)
            }
        }
    }
}
