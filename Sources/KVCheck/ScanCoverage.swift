import KVProtocol

/// A scan's guarantee, checked on whole scans (a client's pages from the start of a
/// prefix, each starting where the one before said, to a page that says it is the last):
/// every key present for the whole scan is returned by one of its pages at least once,
/// and no page returns a key it does not cover.
///
/// "Present for the whole scan" must hold in every linearization, or the check could
/// raise false alarms; so it is decided from real time alone. A key is present from the
/// scan's first invocation to its last return when an acknowledged write created it
/// (a put, a puthash, or a write that was applied and left it, with no deadline or one
/// after the scan's end) and returned before the scan began, and no operation that could
/// remove it — a delete or remove, whatever its outcome, or a write with a deadline not
/// after the scan's end — was invoked before the scan ended without having returned
/// before that write was invoked. An add is not such a write: it keeps the key's
/// deadline, which an earlier write may have set. Keys whose presence this cannot prove
/// are left to the per-key search, which checks every page as a read (`ScanPages`).
enum ScanCoverage {
    struct Scan {
        var client: UInt64
        var prefix: Bytes
        var pages: [HistoryOperation] = []
        var next: Bytes?
        var found = Set<Bytes>()

        var began: UInt64 { pages[0].invokedAt }
        var ended: UInt64 {
            guard case .returned(let at, _) = pages[pages.count - 1].outcome else { return .max }
            return at
        }
    }

    /// The first key a scan missed, or a page returned outside what it covers, explained.
    static func violation(in history: [HistoryOperation]) -> (key: Bytes, explanation: String)? {
        let scans = scans(in: history)
        if scans.isEmpty { return nil }
        var byKey: [Bytes: [HistoryOperation]] = [:]
        for operation in history {
            if case .range = operation.call { continue }
            byKey[operation.key, default: []].append(operation)
        }
        let keys = byKey.keys.sorted { $0.lexicographicallyPrecedes($1) }
        for scan in scans {
            if let stray = stray(in: scan) { return stray }
            for key in keys where key.starts(with: scan.prefix) && !scan.found.contains(key) {
                guard let creation = creation(of: key, byKey[key]!, presentThroughout: scan) else { continue }
                return (key, explanation(key, missedBy: scan, createdBy: creation))
            }
        }
        return nil
    }

    /// Every complete scan in `history`.
    static func scans(in history: [HistoryOperation]) -> [Scan] {
        var current: [UInt64: Scan] = [:]
        var complete: [Scan] = []
        let pages = history.filter { if case .range = $0.call { true } else { false } }
        for operation in pages.sorted(by: { $0.invokedAt < $1.invokedAt }) {
            guard case .range(let prefix, let start, _) = operation.call else { continue }
            var scan: Scan
            if let going = current[operation.client], going.prefix == prefix, going.next == start {
                scan = going
            } else if start.isEmpty || start == prefix {
                scan = Scan(client: operation.client, prefix: prefix)
            } else {
                current[operation.client] = nil
                continue
            }
            guard case .returned(_, .page(let items, let next)) = operation.outcome else {
                current[operation.client] = nil
                continue
            }
            scan.pages.append(operation)
            for item in items { scan.found.insert(item.key) }
            scan.next = next
            if next == nil {
                complete.append(scan)
                current[operation.client] = nil
            } else {
                current[operation.client] = scan
            }
        }
        return complete
    }

    /// An acknowledged write of `key` that proves the key present for the whole of
    /// `scan`, if there is one.
    private static func creation(
        of key: Bytes, _ operations: [HistoryOperation], presentThroughout scan: Scan
    ) -> HistoryOperation? {
        let (began, ended) = (scan.began, scan.ended)
        let removers = operations.filter { mayRemove($0, by: ended) && $0.invokedAt <= ended }
        return operations.first { write in
            guard case .returned(let at, let response) = write.outcome, at < began,
                creates(write.call, response, lastingBeyond: ended)
            else { return false }
            return !removers.contains { remover in
                guard case .returned(let removed, _) = remover.outcome else { return true }
                return removed >= write.invokedAt
            }
        }
    }

    private static func creates(_ call: Call, _ response: Response, lastingBeyond end: UInt64) -> Bool {
        switch (call, response) {
        case (.put, .stored), (.putHash, .previous): true
        case (.write(let write), .written(true, _?)): write.deadline.map { $0 > end } ?? true
        default: false
        }
    }

    private static func mayRemove(_ operation: HistoryOperation, by end: UInt64) -> Bool {
        switch operation.call {
        case .delete, .remove: true
        case .write(let write): write.deadline.map { $0 <= end } ?? false
        case .get, .put, .putHash, .read, .add, .range: false
        }
    }

    /// A page that returned a key it does not cover, or keys out of order.
    private static func stray(in scan: Scan) -> (key: Bytes, explanation: String)? {
        for page in scan.pages {
            guard case .range(let prefix, let start, _) = page.call,
                case .returned(_, .page(let items, let next)) = page.outcome
            else { continue }
            var previous: Bytes?
            for item in items {
                let ordered = previous.map { $0.lexicographicallyPrecedes(item.key) } ?? true
                if !ordered || !ScanPages.covers(item.key, prefix: prefix, start: start, next: next) {
                    return (
                        item.key,
                        "key \(ValueText.show(item.key)): a scan's page returned it out of order or outside the "
                            + "keys it covers:\n  \(page)"
                    )
                }
                previous = item.key
            }
        }
        return nil
    }

    private static func explanation(_ key: Bytes, missedBy scan: Scan, createdBy creation: HistoryOperation) -> String {
        var lines = [
            "key \(ValueText.show(key)): a scan missed it, though it was present for the whole scan.",
            "The scan (client \(scan.client), keys beginning with \(ValueText.show(scan.prefix)), "
                + "[\(scan.began), \(scan.ended)]):",
        ]
        lines += scan.pages.map { "  \($0)" }
        lines.append("The key was created before the scan began:")
        lines.append("  \(creation)")
        lines.append(
            "and no operation that could delete it or let it expire before the scan ended could take effect "
                + "after that.")
        return lines.joined(separator: "\n")
    }
}
