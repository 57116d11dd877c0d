import KVProtocol
import NodeDriver
import ServerCore

/// Who gets a server's answer in the simulation: the requester of an exchange.
struct SimulatedRequester {
    let exchange: UInt64
    let node: Int
}

/// The server driver's world in the simulation: the simulated network, clock and agenda.
/// One per incarnation: everything it set up dies with it (a callback of an earlier
/// incarnation finds `isCurrent` false).
final class SimulatedServerEnvironment: ServerEnvironment {
    typealias Requester = SimulatedRequester
    typealias Timer = SimulatedTimer

    unowned let simulation: Simulation
    unowned let server: SimulatedServer
    let incarnation: UInt64

    init(simulation: Simulation, server: SimulatedServer, incarnation: UInt64) {
        self.simulation = simulation
        self.server = server
        self.incarnation = incarnation
    }

    var isCurrent: Bool { server.isUp && server.incarnation == incarnation }

    var now: UInt64 { simulation.now * 1_000 }

    /// Simulated time as this server's machine counts it since it booted: its own rate,
    /// within the drift bound the servers assume (docs/SIMULATION.md).
    var leaseClock: UInt64 { server.leaseClock(at: simulation.now) }

    /// Simulated time from a fixed epoch, plus this server's clock offset.
    var wallClockMillis: UInt64 {
        UInt64(Int64(Simulation.wallClockEpochMillis + simulation.now / 1_000) + server.clockOffsetMillis)
    }

    func send(
        _ message: Message, to peer: Peer, timeout: UInt64, completion: @escaping (Result<Message, PeerFailure>) -> Void
    ) {
        let target: Int
        switch peer {
        case .monitor(let address):
            guard let monitor = simulation.monitorByAddress[address] else {
                simulation.fail("\(server.address) pings unknown monitor \(address)")
                return
            }
            target = monitor.node
        case .server(let address):
            guard let backup = simulation.server(named: address) else {
                simulation.fail("\(server.address) sends to unknown server \(address)")
                return
            }
            target = backup.node
        }
        simulation.request(
            from: server.node, incarnation: incarnation, to: target, .driver(completion), message,
            timeout: timeout / 1_000)
    }

    func respond(to requester: SimulatedRequester, with message: Message) {
        if case .reply(let reply) = message, reply.status == .ok || reply.status == .noKey {
            simulation.checkAnswer(server)
        }
        simulation.checkRevealed(server, exchange: requester.exchange, message)
        simulation.answer(from: server.node, to: requester.node, exchange: requester.exchange, message)
    }

    /// The requester times out, as it would if the process had died.
    func abandon(_ requester: SimulatedRequester) {}

    func schedule(after delay: UInt64, _ action: @escaping () -> Void) -> SimulatedTimer {
        simulation.scheduleTimer(
            at: simulation.now + delay / 1_000, server: server.node - 1, owner: { [self] in isCurrent }
        ) { [self] in
            simulation.stepping(server) { action() }
        }
    }

    func scheduleRepeated(initialDelay: UInt64, every interval: UInt64, _ action: @escaping () -> Void)
        -> SimulatedTimer
    {
        simulation.scheduleTimer(
            at: simulation.now + initialDelay / 1_000, every: interval / 1_000, server: server.node - 1,
            owner: { [self] in isCurrent }
        ) { [self] in
            simulation.stepping(server) { action() }
        }
    }

    func log(_ notice: ServerNotice, durationNanos: UInt64?) {
        simulation.trace.record(simulation.now, .serverNotice(server.node, notice))
        if case .revived = notice { simulation.checkRevived(server) }
        if case .transferReceived(let primary, let viewnum, _) = notice {
            simulation.completeTransfers[viewnum] = (backup: server.address, primary: primary)
            simulation.transferCompleted()
        }
    }

    func statusChanged(_ core: ServerCore) {}

    func ticked(_ core: ServerCore) {}
}
