import KVProtocol
import NodeDriver

/// Requests, responses and their exchanges on the simulated network.
extension Simulation {
    /// Sends `message` as a new exchange; its answer or failure comes back through
    /// `complete` (after `timeout` at the latest).
    func request(
        from requester: Int, incarnation: UInt64, to target: Int, _ purpose: Exchange.Purpose, _ message: Message,
        timeout: UInt64
    ) {
        let id = nextExchange
        nextExchange += 1
        var exchange = Exchange(requester: requester, incarnation: incarnation, purpose: purpose, target: target)
        if case .transfer = message { exchange.isChunk = true }
        exchanges[id] = exchange
        transmit(Packet(from: requester, to: target, exchange: id, body: .request(message)))
        queue.schedule(.exchangeTimedOut(exchange: id), at: now + timeout)
    }

    func respond(to packet: Packet, _ message: Message) {
        answer(from: packet.to, to: packet.from, exchange: packet.exchange, message)
    }

    func answer(from node: Int, to requester: Int, exchange: UInt64, _ message: Message) {
        // Answered: a crash of the process from now on does not reset this request.
        exchanges[exchange]?.delivered = false
        transmit(Packet(from: node, to: requester, exchange: exchange, body: .response(message)))
    }

    /// The destination process is down: the requester learns it as fast as a reset
    /// travels back.
    func refuse(_ packet: Packet) {
        transmit(Packet(from: packet.to, to: packet.from, exchange: packet.exchange, body: .refused))
    }

    private func transmit(_ packet: Packet) {
        let arrivals = network.arrivals(from: packet.from, to: packet.to, at: now, random: &random)
        statistics.messages += 1
        if arrivals.isEmpty {
            statistics.messagesLost += 1
            let why = network.isBlocked(from: packet.from, to: packet.to) ? "partition" : "loss"
            trace.record(now, .lost(packet, why: why))
            return
        }
        if arrivals.count > 1 { statistics.messagesDuplicated += 1 }
        trace.record(now, .sent(packet, copies: arrivals.count))
        for arrival in arrivals { queue.schedule(.arrive(packet), at: arrival) }
    }

    func arrive(_ packet: Packet) {
        if packet.to >= 1 && packet.to <= servers.count && servers[packet.to - 1].pausedUntil > now {
            queue.schedule(.arrive(packet), at: servers[packet.to - 1].pausedUntil)
            return
        }
        if network.isBlocked(from: packet.from, to: packet.to) {
            statistics.messagesLost += 1
            trace.record(now, .lost(packet, why: "partition on the way"))
            return
        }
        switch packet.body {
        case .request(let message):
            if isUp(packet.to) { exchanges[packet.exchange]?.delivered = true }
            if let monitor = monitorByNode[packet.to] {
                deliverToMonitor(monitor, packet, message)
            } else if packet.to <= servers.count {
                deliverToServer(servers[packet.to - 1], packet, message)
            }
        case .response(let message):
            complete(packet.exchange, .answered(message))
        case .refused:
            complete(packet.exchange, .refused)
        }
    }

    /// A process that dies resets its connections, as the kernel does: a requester whose
    /// request it had taken and not answered learns at once (if the way back is open),
    /// instead of at its timeout.
    func resetConnections(of node: Int) {
        for id in exchanges.keys.sorted() where exchanges[id]!.target == node && exchanges[id]!.delivered {
            transmit(Packet(from: node, to: exchanges[id]!.requester, exchange: id, body: .refused))
        }
    }

    private func isUp(_ node: Int) -> Bool {
        if let monitor = monitorByNode[node] { return monitor.isUp }
        return node <= servers.count ? servers[node - 1].isUp : true
    }

    func timeOut(_ exchange: UInt64) {
        guard let pending = exchanges[exchange] else { return }
        if pending.requester >= 1 && pending.requester <= servers.count
            && servers[pending.requester - 1].pausedUntil > now
        {
            queue.schedule(.exchangeTimedOut(exchange: exchange), at: servers[pending.requester - 1].pausedUntil)
            return
        }
        trace.record(now, .timedOut(exchange: exchange, requester: pending.requester))
        complete(exchange, .timedOut)
    }

    /// The first answer (or the failure) of an exchange reaches its requester; anything
    /// later finds the exchange gone, as a late reply finds no waiting request id.
    private func complete(_ id: UInt64, _ outcome: Exchange.Outcome) {
        guard let exchange = exchanges.removeValue(forKey: id) else { return }
        let requester = exchange.requester
        if requester >= 1 && requester <= servers.count {
            let server = servers[requester - 1]
            guard server.isUp, server.incarnation == exchange.incarnation,
                case .driver(let completion) = exchange.purpose
            else { return }
            let answer: Result<Message, PeerFailure>
            switch outcome {
            case .answered(let message): answer = .success(message)
            // Refused on arrival: the target process is down, nothing listens. A reset of a
            // connection the target had taken the request on is a lost connection.
            case .refused:
                answer = .failure(
                    exchange.delivered ? .noAnswer("connection reset") : .unreachable("connection refused"))
            case .timedOut: answer = .failure(.noAnswer("timed out"))
            }
            stepping(server, answersChunk: exchange.isChunk) { completion(answer) }
        } else if requester == adminNode {
            adminExchangeEnded(exchange.purpose, outcome)
        } else if requester >= firstClientNode {
            clientExchangeEnded(clients[requester - firstClientNode], exchange.purpose, outcome)
        }
    }

    /// How a failed attempt reads in a client's error message.
    static func problem(_ outcome: Exchange.Outcome) -> String {
        switch outcome {
        case .answered(let message): "unexpected reply \(message.typeCode)"
        case .refused: "connection refused"
        case .timedOut: "timed out"
        }
    }
}
