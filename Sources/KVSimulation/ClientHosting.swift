import ClientCore
import KVCheck
import KVProtocol

/// Client sessions: each runs its operations one at a time through `ClientCore`, with a
/// think time between them; each operation is recorded in the history when invoked and
/// completed when answered, and stays an unknown outcome when its deadline passes.
extension Simulation {
    var reader: ClientSession { clients[clients.count - 1] }

    func wakeUp(_ client: ClientSession) {
        if client.current != nil {
            carryOut(client.core.handle(.pauseEnded, at: now), for: client)
        } else {
            startOperation(client)
        }
    }

    private func startOperation(_ client: ClientSession) {
        guard client.remaining > 0 else { return }
        client.remaining -= 1
        client.started += 1
        let isReader = client === reader
        let planned: Workload.Planned
        if isReader {
            planned = Workload.read(client.keysToRead.removeFirst())
        } else if let scan = client.scan {
            planned = Workload.page(from: scan.next, limit: scan.limit)
        } else {
            planned = workload.next(
                client: client.index + 1, number: client.started, now: now, revisions: client.revisions,
                random: &random)
        }
        let parts = planned.parts.map { key, call in
            let ticket = history.invoke(client: UInt64(client.index + 1), key: key, call, at: now)
            let position = history.operations.count - 1
            trace.record(now, .operationStarted(client: client.node, history.operations[position]))
            return ClientSession.Current.Part(key: key, call: call, ticket: ticket, position: position)
        }
        client.current = ClientSession.Current(parts: parts)
        if isReader { statistics.finalReads += 1 } else { statistics.operations += 1 }
        let deadline = now + (isReader ? Self.finalReadDeadline : clientDeadline)
        switch planned.request {
        case .plain(let op, let value):
            carryOut(client.core.start(op, key: parts[0].key, value: value, deadline: deadline, at: now), for: client)
        case .txn(let txn):
            carryOut(client.core.start(txn, deadline: deadline, at: now), for: client)
        }
    }

    func clientExchangeEnded(_ client: ClientSession, _ purpose: Exchange.Purpose, _ outcome: Exchange.Outcome) {
        let event: ClientEvent
        switch (purpose, outcome) {
        case (.clientView(let attempt), .answered(.viewReply(let view))):
            // Clients that predate cluster ids refuse a view reply carrying one.
            if view.cluster != 0 { fail("a client was told \(view) with its cluster id") }
            event = .viewReceived(attempt: attempt, view)
        case (.clientView(let attempt), .answered(.notLeader(let leader))):
            event = .notLeader(attempt: attempt, leader: leader)
        case (.clientRequest(let attempt), .answered(.reply(let reply))):
            event = .replyReceived(attempt: attempt, reply)
        case (.clientView(let attempt), _), (.clientRequest(let attempt), _):
            event = .attemptFailed(attempt: attempt, problem: Self.problem(outcome))
        default:
            return
        }
        carryOut(client.core.handle(event, at: now), for: client)
    }

    private func carryOut(_ effect: ClientEffect?, for client: ClientSession) {
        guard let effect, let current = client.current else { return }
        switch effect {
        case .askMonitor(let address, let attempt, let timeout):
            guard let monitor = monitorByAddress[address] else {
                fail("\(client.name) asks unknown monitor \(address)")
                return
            }
            request(
                from: client.node, incarnation: 0, to: monitor.node, .clientView(attempt: attempt), .getView,
                timeout: timeout)
        case .send(let request, let address, let attempt, let timeout):
            guard let server = server(named: address) else {
                fail("\(client.name) was sent to unknown server \(address)")
                return
            }
            self.request(
                from: client.node, incarnation: 0, to: server.node, .clientRequest(attempt: attempt),
                .request(request), timeout: timeout)
        case .pause(let duration):
            schedule(client, after: duration)
        case .complete(let reply):
            let calls = current.parts.map(\.call)
            guard let responses = WorkloadAnswer.responses(to: calls, reply) else {
                fail(
                    "\(client.name) got \(reply.status) \(reply.outcome.map { "\($0)" } ?? "") to "
                        + calls.map(\.name).joined(separator: ", "))
                return
            }
            for (part, response) in zip(current.parts, responses) {
                history.complete(part.ticket, response, at: now)
                learn(response, to: part, in: client)
            }
            if calls.contains(where: \.mayWrite) {
                noteAcknowledged(clientID: client.core.clientID, seq: client.core.seq)
            }
            if current.parts.count > 1 { checkTransferSum(responses, of: current.parts) }
            if client === reader { statistics.finalReadsAnswered += 1 } else { statistics.completed += 1 }
            finish(client)
        case .fail(.timedOut):
            if client !== reader { statistics.unknownOutcomes += 1 }
            // A scan whose page timed out is abandoned; the next operation is a new one.
            client.scan = nil
            finish(client)
        case .fail(let failure):
            fail("\(client.name) got \(failure) for \(history.operations[current.parts[0].position])")
        }
    }

    /// What a session keeps of an answer for its next operations (the revisions its
    /// conditional puts compare, a scan's next page), and the workload's figures.
    private func learn(_ response: Response, to current: ClientSession.Current.Part, in client: ClientSession) {
        statistics.workload.count(current.call, response)
        switch (current.call, response) {
        case (.remove, _):
            client.revisions[current.key] = 0
        case (.range(_, _, let limit), .page(let items, let next)):
            for item in items { client.revisions[item.key] = item.found.revision }
            client.scan = next.map { ($0, limit) }
        default:
            if let revision = WorkloadAnswer.revisionSeen(in: response) { client.revisions[current.key] = revision }
        }
    }

    private func finish(_ client: ClientSession) {
        let operations = client.current!.parts.map { history.operations[$0.position] }
        client.current = nil
        for operation in operations { trace.record(now, .operationEnded(client: client.node, operation)) }
        let operation = operations[0]
        if client === reader {
            if case .unknown = operation.outcome, risky || livenessExemption != nil {
                // The service refuses: both copies of the data may be gone. The other
                // keys would wait just as long.
                client.remaining = 0
            }
            if client.isDone { finished = true } else { schedule(client, after: 0) }
            return
        }
        if client.remaining > 0 {
            schedule(client, after: random.between(0, maxThinkTime))
        } else if clients.dropLast().allSatisfy(\.isDone) {
            queue.schedule(.endOfFaults, at: now)
        }
    }

    private func schedule(_ client: ClientSession, after delay: UInt64) {
        client.wake += 1
        queue.schedule(.clientWake(client: client.index, wake: client.wake), at: now + delay)
    }
}
