import KVCheck

/// A check across keys, which the per-key linearizability check cannot make: transfers
/// move an amount between the two counters in one transaction, and nothing else writes
/// them, so every transaction that shows both (a transfer's gets after its adds, an
/// audit's reads) must find them summing to 0 (absent counts as 0). A transaction
/// applied in part — on the primary, a backup, or a log replayed after a crash — shows
/// as another sum.
extension Simulation {
    func checkTransferSum(_ responses: [Response], of parts: [ClientSession.Current.Part]) {
        let values = responses.map(WorkloadAnswer.integerAfter)
        if parts.contains(where: { if case .add = $0.call { true } else { false } }) {
            statistics.workload.transfers += 1
        } else {
            statistics.workload.audits += 1
        }
        let sum = values.reduce(Int64(0)) { $0 &+ ($1 ?? .min) }
        guard values.contains(nil) || sum != 0 else { return }
        let shown = parts.map { "\n  \(history.operations[$0.position])" }
        fail("the transfer counters do not sum to 0 in one transaction:" + shown.joined())
    }
}
