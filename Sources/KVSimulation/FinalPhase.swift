import KVCheck
import KVProtocol

/// The end of a schedule: every fault heals and every process runs again, the service
/// settles, a reader reads every key, and the whole history is checked.
extension Simulation {
    func endFaults() {
        guard faultsActive else { return }
        faultsActive = false
        // Clients still running finish the operation they are in, and start no other.
        for client in clients.dropLast() { client.remaining = 0 }
        network.healAll()
        monitors[0].saveFails = false
        if etcd != nil {
            etcdCutOffs.removeAll()
            regainEtcdQuorum()
        }
        trace.record(now, .note("faults end: partitions healed, every process restarts"))
        for monitor in monitors where !monitor.isUp { startMonitor(monitor) }
        for server in servers where !server.isUp { start(server) }
        queue.schedule(.finalReads, at: now + Self.settleTime)
    }

    func startFinalReads() {
        reader.keysToRead = workload.keys + Workload.counters
        reader.remaining = reader.keysToRead.count
        trace.record(now, .note("final reads of every key"))
        wakeUp(reader)
    }

    /// After the last event: the service answered every final read (unless it may have
    /// lost both copies of the data), and the history is linearizable.
    func conclude() {
        let finalReads = history.operations.filter { $0.client == UInt64(reader.index + 1) }
        let unanswered = finalReads.filter { if case .unknown = $0.outcome { true } else { false } }
        if !unanswered.isEmpty || finalReads.count < workload.keys.count + Workload.counters.count {
            if risky || livenessExemption != nil {
                statistics.schedulesWithoutService += 1
            } else {
                fail(
                    "liveness: the final read of \(unanswered.first?.key.utf8String ?? "a key") got no answer in "
                        + "\(Self.finalReadDeadline / 1_000_000) s, though one copy of the data always survived "
                        + "and every fault had healed")
                return
            }
        }
        // Ten times the checker's default: a long wait for a revival leaves a key with a
        // dozen or more unknown outcomes, each concurrent with everything after it, and a
        // linearizable history then takes a few million steps (seed 14151).
        switch LinearizabilityChecker(stepBudgetPerKey: 10_000_000).check(history.operations) {
        case .linearizable:
            break
        case .notLinearizable(_, let explanation):
            fail("the clients' history is not linearizable:\n\(explanation)")
        case .timedOut(let key):
            fail("the linearizability checker ran out of budget on key \(key.utf8String)")
        case .invalidHistory(let problem):
            fail("the recorded history is invalid: \(problem)")
        }
    }
}
