import KVCheck
import KVProtocol

/// Linearizable histories by construction: each client runs operations one after another,
/// each takes effect at a random instant between its invocation and its return, and the
/// responses come from applying the operations to a plain dictionary in the order of
/// those instants. Some operations time out; those take effect or not, at random.
enum RandomHistory {
    static func generate(
        clients: Int, operationsPerClient: Int, keys: Int, seed: UInt64, unknownPercent: Int = 1
    ) -> [HistoryOperation] {
        var rng = SplitMix64(seed: seed)
        struct Planned {
            var operation: HistoryOperation
            var effectAt: UInt64
            var takesEffect: Bool
        }
        var planned: [Planned] = []
        for client in 0..<clients {
            var now = UInt64(rng.below(50))
            for index in 0..<operationsPerClient {
                let key = Bytes(utf8: "key\(rng.below(keys))")
                let call: Call
                switch rng.below(10) {
                case 0...3: call = .get
                case 4...5: call = .put(value: Bytes(utf8: "c\(client)-\(index)"))
                case 6...8: call = .putHash(argument: Bytes(utf8: "\(rng.below(100))"))
                default: call = .delete
                }
                let invokedAt = now + UInt64(rng.below(20))
                let effectAt = invokedAt + 1 + UInt64(rng.below(40))
                let returnedAt = effectAt + UInt64(rng.below(40))
                let unknown = rng.below(100) < unknownPercent
                // The placeholder outcome carries the return time until the response is known.
                let operation = HistoryOperation(
                    client: UInt64(client), key: key, call: call, invokedAt: invokedAt,
                    outcome: unknown ? .unknown : .returned(at: returnedAt, .stored))
                planned.append(
                    Planned(operation: operation, effectAt: effectAt, takesEffect: !unknown || rng.below(2) == 0))
                now = returnedAt + 1
            }
        }
        var store: [Bytes: Bytes] = [:]
        for index in planned.indices.sorted(by: { planned[$0].effectAt < planned[$1].effectAt }) {
            let entry = planned[index]
            guard entry.takesEffect else { continue }
            let key = entry.operation.key
            let response: Response
            switch entry.operation.call {
            case .get:
                response = .value(store[key])
            case .put(let value):
                store[key] = value
                response = .stored
            case .putHash(let argument):
                let previous = store[key] ?? []
                store[key] = PutHash.newValue(previous: previous, argument: argument)
                response = .previous(previous)
            case .delete:
                response = .existed(store.removeValue(forKey: key) != nil)
            default:
                preconditionFailure("not generated: \(entry.operation.call)")
            }
            if case .returned(let at, _) = entry.operation.outcome {
                planned[index].operation.outcome = .returned(at: at, response)
            }
        }
        return planned.map(\.operation)
    }
}
