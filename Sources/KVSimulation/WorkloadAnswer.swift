import KVCheck
import KVProtocol

/// What a client observed, as the history records it: a reply turned into the
/// `Response` of the call it answers.
enum WorkloadAnswer {
    /// Nil for a reply that is not an answer to `call` (another status, or a transaction's
    /// outcome of another shape than the workload's transactions give).
    static func response(to call: Call, _ reply: ClientReply) -> Response? {
        switch (call, reply.status) {
        case (.get, .ok): return .value(reply.value)
        case (.get, .noKey): return .value(nil)
        case (.put, .ok): return .stored
        case (.putHash, .ok): return .previous(reply.value)
        case (.delete, .ok): return .existed(true)
        case (.delete, .noKey): return .existed(false)
        case (_, .ok): return reply.outcome.flatMap { response(to: call, $0) }
        default: return nil
        }
    }

    private static func response(to call: Call, _ outcome: TxnOutcome) -> Response? {
        let results = outcome.results
        switch call {
        case .read, .remove:
            guard results.count == 1, case .value(let found) = results[0] else { return nil }
            return .entry(found.map(versioned))
        case .write:
            guard results.count == (outcome.succeeded ? 2 : 1), case .value(let after) = results.last else {
                return nil
            }
            return .written(applied: outcome.succeeded, after: after.map(versioned))
        case .add:
            guard results.count == 2, case .value(let after) = results[1] else { return nil }
            switch results[0] {
            case .integer(let sum):
                // The add's own result is the value the get then finds.
                guard after?.value == Bytes(utf8: String(sum)) else { return nil }
                return .written(applied: true, after: after.map(versioned))
            case .error(.notInteger), .error(.overflow):
                return .written(applied: false, after: after.map(versioned))
            default:
                return nil
            }
        case .range:
            guard results.count == 1, case .range(let items, let next) = results[0] else { return nil }
            var found: [ScanItem] = []
            for item in items {
                guard let value = item.value else { return nil }
                found.append(ScanItem(key: item.key, versioned(value)))
            }
            return .page(found, next: next)
        case .get, .put, .putHash, .delete:
            return nil
        }
    }

    private static func versioned(_ stored: StoredValue) -> VersionedValue {
        VersionedValue(stored.value, revision: stored.revision)
    }

    /// The revision a response shows of its key, if it shows one: what a session's next
    /// conditional put compares (0 for a key it found absent).
    static func revisionSeen(in response: Response) -> UInt64? {
        switch response {
        case .entry(let found): found?.revision ?? 0
        case .written(_, let after): after?.revision ?? 0
        default: nil
        }
    }
}
