import KVProtocol
import NodeDriver
import ServerCore

/// Servers as processes: started, stopped (a crash, or an exit after leaving), handed
/// their messages, and asked to leave; everything else is the production driver's. The
/// replica checks run around every step a server takes.
extension Simulation {
    func start(_ server: SimulatedServer) {
        guard !server.isUp else { return }
        if server.incarnation > 0 { statistics.count(.serverRestart) }
        trace.record(
            now,
            .note(
                "\(server.address) starts \(server.disk == nil ? "empty" : "from its data directory") "
                    + "(incarnation \(server.incarnation + 1))"))
        if !server.start(in: self) {
            // The machine crashed during recovery; it boots again after a while.
            queue.schedule(.restartServer(server: server.node - 1), at: now + restartDelay)
        }
    }

    /// The process ends (crash or exit); systemd starts it again after a while. A crash of
    /// the machine takes what its disk had not made durable.
    func stop(_ server: SimulatedServer, why: String, crash: ServerCrash) {
        guard server.isUp else { return }
        trace.record(now, .note("\(server.address) stops: \(why)"))
        server.stop()
        resetConnections(of: server.node)
        if case .machine = crash { crashMachine(of: server) }
        queue.schedule(.restartServer(server: server.node - 1), at: now + restartDelay)
    }

    private var restartDelay: UInt64 {
        faultsActive ? random.between(100_000, 1_500_000) : random.between(10_000, 100_000)
    }

    func deliverToServer(_ server: SimulatedServer, _ packet: Packet, _ message: Message) {
        guard let driver = server.driver else {
            refuse(packet)
            return
        }
        let requester = SimulatedRequester(exchange: packet.exchange, node: packet.from)
        arriving(at: server, exchange: packet.exchange, message) {
            stepping(server) {
                switch message {
                case .request(let request): driver.receive(request, from: requester)
                case .forward(let batch): driver.receive(batch, from: requester)
                case .transfer(let chunk): driver.receive(chunk, from: requester)
                default: break
                }
            }
        }
    }

    /// Runs `body` (one step of `server`'s driver) and the replica checks on its result.
    /// `answersChunk`: the step is the answer to a transfer chunk, which may complete
    /// the transfer and, in the same step, apply the requests deferred meanwhile; the
    /// check compares the backup with the primary's state from before that step.
    func stepping(_ server: SimulatedServer, answersChunk: Bool = false, _ body: () -> Void) {
        guard let core = server.core else { return }
        let pingBefore = core.pingViewnum
        body()
        if let core = server.core, core.isServing { newestViewServed = max(newestViewServed, core.view.viewnum) }
        checkLeaseReads(server)
        checkAcknowledgement(server, pingBefore: pingBefore, before: answersChunk ? core : nil)
        checkAgreement(around: server)
    }

    // MARK: - Graceful leave (SIGTERM)

    func beginLeave(_ server: SimulatedServer) {
        guard let driver = server.driver else { return }
        server.askedToLeave = true
        let incarnation = server.incarnation
        stepping(server) {
            driver.leave(timeout: Self.leaveTimeout * 1_000) { [self] outcome in
                // kv-server exits once its leave ends; as a step of its own, not inside
                // the driver's.
                queue.schedule(
                    .serverExit(server: server.node - 1, incarnation: incarnation, outcome: outcome), at: now)
            }
        }
    }

    func exitAfterLeave(_ server: SimulatedServer, incarnation: UInt64, outcome: LeaveOutcome) {
        guard server.isUp, server.incarnation == incarnation else { return }
        let why: String
        switch outcome {
        case .relieved(let view):
            why = "relieved by \(view)"
        case .nobodyToTakeOver(let view):
            // The data leaves with it: the schedule may end without service.
            livenessExemption = "\(server.address) left as primary without a backup"
            why = "nobody to take over \(view)"
        case .timedOut(let view):
            why = "leave timed out in \(view)"
        case .monitorUnreachable(let view, let reason):
            why = "no monitor reachable in \(view) (\(reason))"
        }
        statistics.count(.leaveExit)
        stop(server, why: "exits after leaving: \(why)", crash: .process)
    }
}
