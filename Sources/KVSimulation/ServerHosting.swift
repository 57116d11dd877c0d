import KVProtocol
import ServerCore

/// Servers as `ServerNode` runs them: ticks, pings (one in flight at a time), sends to
/// the backup with the peer timeout, replies by token, graceful leaves, crashes and
/// restarts.
extension Simulation {
    func start(_ server: SimulatedServer) {
        guard !server.isUp else { return }
        if server.incarnation > 0 { statistics.count(.serverRestart) }
        server.start()
        trace.record(now, .note("\(server.address) starts empty (incarnation \(server.incarnation))"))
        // ServerNode ticks at once on start, then every ping interval.
        queue.schedule(
            .serverTick(server: server.node - 1, incarnation: server.incarnation), at: now)
    }

    /// The process ends (crash or exit); systemd starts it again after a while.
    func stop(_ server: SimulatedServer, why: String) {
        guard server.isUp else { return }
        trace.record(now, .note("\(server.address) stops: \(why)"))
        server.stop()
        let downtime = faultsActive ? random.between(100_000, 1_500_000) : random.between(10_000, 100_000)
        queue.schedule(.restartServer(server: server.node - 1), at: now + downtime)
    }

    func tick(_ server: SimulatedServer, incarnation: UInt64) {
        guard server.isUp, server.incarnation == incarnation else { return }
        step(server, .tick)
        queue.schedule(.serverTick(server: server.node - 1, incarnation: incarnation), at: now + Self.pingInterval)
    }

    func deliverToServer(_ server: SimulatedServer, _ packet: Packet, _ message: Message) {
        guard server.isUp else {
            refuse(packet)
            return
        }
        func token(client: Bool) -> ReplyToken {
            server.register(.init(exchange: packet.exchange, requester: packet.from, isClientRequest: client))
        }
        switch message {
        case .request(let request): step(server, .clientRequest(request, token(client: true)))
        case .forward(let batch): step(server, .forward(batch, token(client: false)))
        case .transfer(let chunk): step(server, .transfer(chunk, token(client: false)))
        default: break
        }
    }

    func serverExchangeEnded(_ server: SimulatedServer, _ purpose: Exchange.Purpose, _ outcome: Exchange.Outcome) {
        switch purpose {
        case .ping(let leaving):
            server.pingInFlight = false
            guard case .answered(.viewReply(let view)) = outcome else { return }
            step(server, .viewFromMonitor(view))
            // Only the answer to a ping that said "leaving" shows what the monitor made
            // of the request (as in ServerNode).
            if leaving { checkLeave(server) }
        case .backup(let id):
            var ack: BackupAck?
            if case .answered(.backupAck(let received)) = outcome { ack = received }
            step(server, .backupReplied(id, ack))
        default:
            break
        }
    }

    /// One event through a running server's core, its effects carried out, and the
    /// replica checks run on the result.
    func step(_ server: SimulatedServer, _ event: ServerEvent) {
        let pingBefore = server.core!.pingViewnum
        // A chunk's answer completes a transfer, and the same step may apply deferred
        // requests: keep the primary's state from before it for the check.
        var before: ServerCore?
        if case .backupReplied(.chunk, _) = event { before = server.core }
        let effects = server.step(event)
        checkAcknowledgement(server, pingBefore: pingBefore, before: before)
        perform(effects, server)
        checkAgreement(around: server)
    }

    private func perform(_ effects: [ServerEffect], _ server: SimulatedServer) {
        for effect in effects {
            switch effect {
            case .reply(let token, let reply):
                guard let responder = server.responders.removeValue(forKey: token.raw) else { continue }
                if reply.status == .ok || reply.status == .noKey { checkAnswer(server) }
                answer(from: server.node, to: responder.requester, exchange: responder.exchange, .reply(reply))
            case .answerPrimary(let token, let ack):
                guard let responder = server.responders.removeValue(forKey: token.raw) else { continue }
                answer(from: server.node, to: responder.requester, exchange: responder.exchange, .backupAck(ack))
            case .sendToBackup(let address, let id, let message):
                guard let backup = self.server(named: address) else {
                    fail("\(server.address) sends to unknown backup \(address)")
                    return
                }
                request(
                    from: server.node, incarnation: server.incarnation, to: backup.node, .backup(id), message,
                    timeout: Self.peerTimeout)
            case .ping(let viewnum, let leaving):
                // ServerNode never has two pings in flight.
                guard !server.pingInFlight else { continue }
                server.pingInFlight = true
                request(
                    from: server.node, incarnation: server.incarnation, to: monitor.node, .ping(leaving: leaving),
                    .ping(address: server.address, viewnum: viewnum, leaving: leaving), timeout: Self.peerTimeout)
            case .notice(let notice):
                trace.record(now, .serverNotice(server.node, notice))
            }
        }
    }

    // MARK: - Graceful leave (ServerNode.leave)

    func beginLeave(_ server: SimulatedServer) {
        server.leave = SimulatedServer.LeaveProgress()
        step(server, .leave)
        queue.schedule(
            .leaveTimedOut(server: server.node - 1, incarnation: server.incarnation), at: now + Self.leaveTimeout)
    }

    private func checkLeave(_ server: SimulatedServer) {
        guard var leave = server.leave, let core = server.core else { return }
        if core.hasLeft {
            exitAfterLeave(server, why: "relieved by \(core.view)")
        } else if core.role == .primary && core.view.backup.isEmpty && core.view.acked {
            leave.answersWithoutBackup += 1
            server.leave = leave
            // ServerNode's answersBeforeGivingUp.
            if leave.answersWithoutBackup >= 10 {
                // The data leaves with it: the schedule may end without service.
                livenessExemption = "\(server.address) left as primary without a backup"
                exitAfterLeave(server, why: "nobody to take over \(core.view)")
            }
        } else {
            leave.answersWithoutBackup = 0
            server.leave = leave
        }
    }

    func leaveTimedOut(_ server: SimulatedServer, incarnation: UInt64) {
        guard server.isUp, server.incarnation == incarnation, server.leave != nil else { return }
        exitAfterLeave(server, why: "leave timed out in \(server.core!.view)")
    }

    private func exitAfterLeave(_ server: SimulatedServer, why: String) {
        statistics.count(.leaveExit)
        stop(server, why: "exits after leaving: \(why)")
    }
}
