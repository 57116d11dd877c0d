import KVCheck
import KVProtocol

/// The clients' operations: gets, puts, puthashes and deletes on a few keys, so that
/// sessions contend on every key. Every written value is unique, which lets the
/// linearizability checker tell every write apart.
struct Workload {
    let keys: [Bytes]
    /// Weights of get, put, puthash and delete.
    let weights: [Int]

    func next(client: Int, number: Int, random: inout SimulationRandom) -> (key: Bytes, call: Call) {
        let key = random.pick(keys)
        let value = Bytes(utf8: "c\(client)-\(number)")
        switch random.weighted(weights) {
        case 0: return (key, .get)
        case 1: return (key, .put(value: value))
        case 2: return (key, .putHash(argument: value))
        default: return (key, .delete)
        }
    }

    static func request(for call: Call) -> (op: Operation, value: Bytes) {
        switch call {
        case .get: (.get, [])
        case .put(let value): (.put, value)
        case .putHash(let argument): (.putHash, argument)
        case .delete: (.delete, [])
        case .read, .write, .add, .remove, .range: preconditionFailure("not in the workload: \(call.name)")
        }
    }

    /// What the client observed, as the history records it. Nil for a status that is
    /// not an answer to `call`.
    static func response(to call: Call, _ reply: ClientReply) -> Response? {
        switch (call, reply.status) {
        case (.get, .ok): .value(reply.value)
        case (.get, .noKey): .value(nil)
        case (.put, .ok): .stored
        case (.putHash, .ok): .previous(reply.value)
        case (.delete, .ok): .existed(true)
        case (.delete, .noKey): .existed(false)
        default: nil
        }
    }
}
