import KVProtocol

/// A scan's page as reads of single keys, for the per-key search.
///
/// A page is one transaction, so it reads every key it covers at one instant: the keys
/// that begin with its prefix, from its start up to (not including) the next page's start,
/// or to the end of the prefix on the last page. A covered key it returned had that value
/// and revision then; a covered key it did not return was absent (or expired). The
/// projection of a linearizable history on one key is linearizable, so checking each
/// key's reads with the key's other operations can only find real violations; what it
/// cannot see is a page's atomicity across keys.
enum ScanPages {
    /// Whether `page` (answered with `next`) covered `key`.
    static func covers(_ key: Bytes, prefix: Bytes, start: Bytes, next: Bytes?) -> Bool {
        key.starts(with: prefix) && !key.lexicographicallyPrecedes(start)
            && next.map { key.lexicographicallyPrecedes($0) } != false
    }

    /// The history with each answered page replaced by one operation for each key it
    /// covered among those the history names (the keys of the other operations and of
    /// the pages' items). Pages without an answer constrain nothing and are left out.
    static func perKey(_ history: [HistoryOperation]) -> [HistoryOperation] {
        guard history.contains(where: { if case .range = $0.call { true } else { false } }) else { return history }
        var keys = Set<Bytes>()
        for operation in history {
            if case .returned(_, .page(let items, _)) = operation.outcome {
                for item in items { keys.insert(item.key) }
            } else if case .range = operation.call {
                continue
            } else {
                keys.insert(operation.key)
            }
        }
        var expanded: [HistoryOperation] = []
        expanded.reserveCapacity(history.count)
        for operation in history {
            guard case .range(let prefix, let start, _) = operation.call else {
                expanded.append(operation)
                continue
            }
            guard case .returned(_, .page(_, let next)) = operation.outcome else { continue }
            for key in keys where covers(key, prefix: prefix, start: start, next: next) {
                var read = operation
                read.key = key
                expanded.append(read)
            }
        }
        return expanded
    }
}
