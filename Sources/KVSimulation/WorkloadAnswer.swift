import KVCheck
import KVProtocol

/// What a client observed, as the history records it: a reply turned into the
/// `Response` of each call it answers (one, or one per key of a transfer or an audit).
enum WorkloadAnswer {
    /// Nil for a reply that is not an answer to `calls` (another status, or a
    /// transaction's outcome of another shape than the workload's transactions give).
    static func responses(to calls: [Call], _ reply: ClientReply) -> [Response]? {
        guard calls.count == 1 else {
            guard reply.status == .ok, let outcome = reply.outcome else { return nil }
            return responses(toParts: calls, outcome)
        }
        let call = calls[0]
        let response: Response?
        switch (call, reply.status) {
        case (.get, .ok): response = .value(reply.value)
        case (.get, .noKey): response = .value(nil)
        case (.put, .ok): response = .stored
        case (.putHash, .ok): response = .previous(reply.value)
        case (.delete, .ok): response = .existed(true)
        case (.delete, .noKey): response = .existed(false)
        case (_, .ok): response = reply.outcome.flatMap { self.response(to: call, $0) }
        default: response = nil
        }
        return response.map { [$0] }
    }

    private static func response(to call: Call, _ outcome: TxnOutcome) -> Response? {
        let results = outcome.results
        switch call {
        case .read, .remove:
            guard results.count == 1 else { return nil }
            return entry(results[0])
        case .write:
            guard results.count == (outcome.succeeded ? 2 : 1), case .value(let after) = results.last else {
                return nil
            }
            return .written(applied: outcome.succeeded, after: after.map(versioned))
        case .add:
            guard results.count == 2 else { return nil }
            return added(results[0], after: results[1])
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

    /// A transaction over several keys: its reads (an audit), or its adds followed by a
    /// get of each key (a transfer).
    private static func responses(toParts calls: [Call], _ outcome: TxnOutcome) -> [Response]? {
        let results = outcome.results
        let count = calls.count
        var responses: [Response] = []
        for (index, call) in calls.enumerated() {
            let response: Response?
            switch call {
            case .read:
                response = results.count == count ? entry(results[index]) : nil
            case .add:
                response = results.count == 2 * count ? added(results[index], after: results[count + index]) : nil
            default:
                response = nil
            }
            guard let response else { return nil }
            responses.append(response)
        }
        return responses
    }

    private static func entry(_ result: TxnOpResult) -> Response? {
        guard case .value(let found) = result else { return nil }
        return .entry(found.map(versioned))
    }

    /// An add's result and the get of its key after it.
    private static func added(_ result: TxnOpResult, after: TxnOpResult) -> Response? {
        guard case .value(let after) = after else { return nil }
        switch result {
        case .integer(let sum):
            // The add's own result is the value the get then finds.
            guard after?.value == Bytes(utf8: String(sum)) else { return nil }
            return .written(applied: true, after: after.map(versioned))
        case .error(.notInteger), .error(.overflow):
            return .written(applied: false, after: after.map(versioned))
        default:
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

    /// The value a response shows its key holds after it, read as an integer (0 when
    /// absent); nil when the value is not an integer or the response shows none.
    static func integerAfter(_ response: Response) -> Int64? {
        let value: Bytes?
        switch response {
        case .entry(let found): value = found?.value
        case .written(_, let after): value = after?.value
        default: return nil
        }
        guard let value else { return 0 }
        let text = String(decoding: value, as: UTF8.self)
        return Int64(text).flatMap { String($0) == text ? $0 : nil }
    }
}
