import KVCheck
import KVProtocol

/// Linearizable histories of the transactions' calls by construction, as `RandomHistory`
/// makes them of the original four: each operation takes effect at a random instant of
/// its span, and its response comes from a store applying the operations in the order
/// of those instants — with a global revision counter, deadlines that remove a key from
/// the instant they pass (exactly, as the primary's clock does), conditional writes,
/// adds and scans paged over several keys. A write with a time to live counts it from
/// the instant it takes effect, and the history gives the earliest deadline it can have
/// (its invocation plus the time to live), as a client does.
enum RandomTransactionHistory {
    private struct Stored {
        var value: Bytes
        var revision: UInt64
        var deadline: UInt64
    }

    private struct Planned {
        var operation: HistoryOperation
        var effectAt: UInt64
        var takesEffect: Bool
        /// For a write with a time to live: the deadline counts from when it takes effect.
        var timeToLive: UInt64?
        /// For a scan's page: the page before it, if any.
        var previousPage: Int?
    }

    static let keys = (0..<3).map { Bytes(utf8: "k\($0)") }

    static func generate(clients: Int, operationsPerClient: Int, seed: UInt64, unknownPercent: Int = 5)
        -> [HistoryOperation]
    {
        var rng = SplitMix64(seed: seed)
        var planned: [Planned] = []
        for client in 1...clients {
            var now = UInt64(rng.below(20))
            var page: Int?
            for index in 0..<operationsPerClient {
                let invokedAt = now + UInt64(rng.below(10))
                let effectAt = invokedAt + UInt64(rng.below(25))
                let returnedAt = effectAt + UInt64(rng.below(25))
                let key = keys[rng.below(keys.count)]
                var entry = Planned(
                    operation: HistoryOperation(
                        client: UInt64(client), key: key, call: .get, invokedAt: invokedAt,
                        outcome: .returned(at: returnedAt, .stored)),
                    effectAt: effectAt, takesEffect: true)
                // A scan's pages follow one another; each starts where the last one said.
                if page != nil || rng.below(12) == 0 {
                    entry.operation.key = Bytes(utf8: "k")
                    entry.operation.call = .range(prefix: Bytes(utf8: "k"), start: [], limit: 1 + rng.below(2))
                    entry.previousPage = page
                    page = planned.count
                } else {
                    entry.operation.call = call(client: client, index: index, invokedAt: invokedAt, &rng, &entry)
                    if rng.below(100) < unknownPercent {
                        entry.operation.outcome = .unknown
                        entry.takesEffect = rng.below(2) == 0
                    }
                }
                planned.append(entry)
                // A scan goes on until a page says it is the last: decided as it runs, so
                // a scan here is a run of pages, and the one after the last starts anew.
                if page != nil, rng.below(3) == 0 { page = nil }
                now = returnedAt + 1
            }
        }
        run(&planned)
        return planned.map(\.operation)
    }

    private static func call(
        client: Int, index: Int, invokedAt: UInt64, _ rng: inout SplitMix64, _ entry: inout Planned
    ) -> Call {
        let text = Bytes(utf8: "c\(client)-\(index)")
        switch rng.below(9) {
        case 0: return .get
        case 1: return .put(value: text)
        case 2: return .putHash(argument: text)
        case 3: return .delete
        case 4: return .read
        case 5: return .add(delta: Int64(rng.below(7)) - 2)
        case 6: return .remove
        default:
            let value = rng.below(2) == 0 ? text : Bytes(utf8: String(client * 1_000 + index))
            var write = ConditionalWrite(value)
            switch rng.below(4) {
            case 0: write.condition = .absent
            case 1: write.condition = .revision(UInt64(rng.below(12)))
            default: break
            }
            if rng.below(2) == 0 {
                let ttl = UInt64(1 + rng.below(60))
                write.deadline = invokedAt + ttl
                if rng.below(2) == 0 { entry.timeToLive = ttl }
            }
            return .write(write)
        }
    }

    /// Applies the operations in the order they take effect, filling in the responses.
    private static func run(_ planned: inout [Planned]) {
        var store: [Bytes: Stored] = [:]
        var revision: UInt64 = 0
        for index in planned.indices.sorted(by: { (planned[$0].effectAt, $0) < (planned[$1].effectAt, $1) }) {
            guard planned[index].takesEffect else { continue }
            let now = planned[index].effectAt
            let key = planned[index].operation.key
            for (key, stored) in store where stored.deadline != 0 && stored.deadline <= now { store[key] = nil }
            let live = store[key]
            let found = live.map { VersionedValue($0.value, revision: $0.revision) }
            let response: Response
            switch planned[index].operation.call {
            case .get:
                response = .value(live?.value)
            case .put(let value):
                revision += 1
                store[key] = Stored(value: value, revision: revision, deadline: 0)
                response = .stored
            case .putHash(let argument):
                revision += 1
                let value = PutHash.newValue(previous: live?.value ?? [], argument: argument)
                store[key] = Stored(value: value, revision: revision, deadline: 0)
                response = .previous(live?.value ?? [])
            case .delete:
                if live != nil { revision += 1 }
                store[key] = nil
                response = .existed(live != nil)
            case .read:
                response = .entry(found)
            case .remove:
                if live != nil { revision += 1 }
                store[key] = nil
                response = .entry(found)
            case .add(let delta):
                let text = String(decoding: live?.value ?? Bytes(utf8: "0"), as: UTF8.self)
                guard let current = Int64(text), String(current) == text else {
                    response = .written(applied: false, after: found)
                    break
                }
                revision += 1
                let sum = Bytes(utf8: String(current + delta))
                store[key] = Stored(value: sum, revision: revision, deadline: live?.deadline ?? 0)
                response = .written(applied: true, after: VersionedValue(sum, revision: revision))
            case .write(let write):
                let holds: Bool
                switch write.condition {
                case .always: holds = true
                case .absent: holds = live == nil
                case .revision(let wanted): holds = (live?.revision ?? 0) == wanted
                }
                guard holds else {
                    response = .written(applied: false, after: found)
                    break
                }
                revision += 1
                let deadline = planned[index].timeToLive.map { now + $0 } ?? write.deadline ?? 0
                if deadline != 0 && deadline <= now {
                    store[key] = nil
                    response = .written(applied: true, after: nil)
                } else {
                    store[key] = Stored(value: write.value, revision: revision, deadline: deadline)
                    response = .written(applied: true, after: VersionedValue(write.value, revision: revision))
                }
            case .range(let prefix, _, let limit):
                let start = planned[index].previousPage.flatMap { previous -> Bytes? in
                    guard case .returned(_, .page(_, let next)) = planned[previous].operation.outcome else {
                        return nil
                    }
                    return next
                }
                // The page after a scan's last starts a new scan.
                let from = start ?? []
                planned[index].operation.call = .range(prefix: prefix, start: from, limit: limit)
                let covered = store.keys.filter { $0.starts(with: prefix) && !$0.lexicographicallyPrecedes(from) }
                    .sorted { $0.lexicographicallyPrecedes($1) }
                let items = covered.prefix(limit).map {
                    ScanItem(key: $0, VersionedValue(store[$0]!.value, revision: store[$0]!.revision))
                }
                response = .page(Array(items), next: covered.count > limit ? covered[limit] : nil)
            }
            if case .returned(let at, _) = planned[index].operation.outcome {
                planned[index].operation.outcome = .returned(at: at, response)
            }
        }
    }
}
