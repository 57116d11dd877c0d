import ServerCore

/// A kv-server process as `ServerNode` runs it: the core, the requests waiting for the
/// core's answers, the one ping in flight, and a graceful leave in progress. A crash
/// drops all of it; a restart begins a new incarnation with an empty core.
final class SimulatedServer {
    /// A request the core will answer through a reply token.
    struct Responder {
        let exchange: UInt64
        let requester: Int
        let isClientRequest: Bool
    }

    /// `ServerNode.leave`: waiting for a view without this server, for the timeout, or
    /// for evidence that nobody can take over.
    struct LeaveProgress {
        var answersWithoutBackup = 0
    }

    let address: String
    let node: Int
    let config: ServerConfig
    private(set) var core: ServerCore?
    private(set) var incarnation: UInt64 = 0
    var responders: [UInt64: Responder] = [:]
    var nextToken: UInt64 = 1
    var pingInFlight = false
    var leave: LeaveProgress?

    init(address: String, node: Int, config: ServerConfig) {
        self.address = address
        self.node = node
        self.config = config
    }

    var isUp: Bool { core != nil }

    /// A new process under the same address: empty, pinging 0.
    func start() {
        incarnation += 1
        core = ServerCore(config: config)
        responders.removeAll()
        pingInFlight = false
        leave = nil
    }

    /// The process ends: its state, its connections and its timers are gone.
    func stop() {
        core = nil
        responders.removeAll()
        pingInFlight = false
        leave = nil
    }

    func register(_ responder: Responder) -> ReplyToken {
        defer { nextToken += 1 }
        responders[nextToken] = responder
        return ReplyToken(nextToken)
    }

    /// Runs one event through the core (which must be running).
    func step(_ event: ServerEvent) -> [ServerEffect] {
        core!.step(event)
    }
}
