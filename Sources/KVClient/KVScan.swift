import KVProtocol
import NIOCore

/// The keys of a range, in key order, fetched a page at a time as the sequence is
/// iterated: one transaction of one range operation per page, each starting where the
/// previous one stopped (its `next`). Only one page is held at a time, however many keys
/// there are.
///
/// Each page is read at one point in time, not the whole scan: a key that exists from
/// the scan's start to its end is returned exactly once; one created, deleted or expiring
/// meanwhile may or may not be.
public struct KVScan<Element: Sendable>: AsyncSequence, Sendable {
    let client: KVClient
    let range: KeyRange
    let limit: Int?
    let pageTimeout: TimeAmount?
    let element: @Sendable (RangeItem, _ now: UInt64) -> Element

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(scan: self, range: range, remaining: limit)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let scan: KVScan
        var range: KeyRange
        /// Keys still to return, nil for all.
        var remaining: Int?
        var page: [RangeItem] = []
        var index = 0
        var now: UInt64 = 0
        var finished = false

        init(scan: KVScan, range: KeyRange, remaining: Int?) {
            self.scan = scan
            self.range = range
            self.remaining = remaining
        }

        public mutating func next() async throws -> Element? {
            while index == page.count {
                if finished || remaining == 0 { return nil }
                try await fetchPage()
            }
            defer { index += 1 }
            return scan.element(page[index], now)
        }

        private mutating func fetchPage() async throws {
            let outcome = try await scan.client.txn(
                Txn(success: [.range(range)]), deadline: scan.pageTimeout.map { .now() + $0 })
            guard outcome.results.count == 1, case .range(var items, let next) = outcome.results[0] else {
                throw KVClient.unexpected(outcome.results)
            }
            if let left = remaining {
                if items.count >= left {
                    items.removeLast(items.count - left)
                    finished = true
                }
                remaining = left - items.count
            }
            if let next { range.start = next } else { finished = true }
            (page, index, now) = (items, 0, outcome.now)
        }
    }
}

extension KVClient {
    /// Every key beginning with `prefix` (and matching `pattern`, Redis's MATCH glob
    /// syntax), with its value, revision and deadline, in key order; at most `limit` of
    /// them. Pages of `pageSize` keys looked at (matching or not; fewer when their values
    /// are large) are fetched as the sequence is iterated; `pageTimeout` bounds each.
    public func scan(
        prefix: Bytes = [], pattern: Bytes? = nil, limit: Int? = nil, pageSize: Int = 1000,
        pageTimeout: TimeAmount? = nil
    ) -> KVScan<KVEntry> {
        KVScan(
            client: self, range: Self.range(prefix, pattern, pageSize, keysOnly: false), limit: limit,
            pageTimeout: pageTimeout
        ) { item, now in
            KVEntry(key: item.key, stored: item.value ?? StoredValue(value: [], revision: 0), now: now)
        }
    }

    /// The keys alone, as `scan` (values are not sent).
    public func scanKeys(
        prefix: Bytes = [], pattern: Bytes? = nil, limit: Int? = nil, pageSize: Int = 1000,
        pageTimeout: TimeAmount? = nil
    ) -> KVScan<Bytes> {
        KVScan(
            client: self, range: Self.range(prefix, pattern, pageSize, keysOnly: true), limit: limit,
            pageTimeout: pageTimeout
        ) { item, _ in item.key }
    }

    private static func range(_ prefix: Bytes, _ pattern: Bytes?, _ pageSize: Int, keysOnly: Bool) -> KeyRange {
        KeyRange(
            start: prefix, prefix: prefix, pattern: pattern, limit: min(max(pageSize, 1), KeyRange.maxLimit),
            keysOnly: keysOnly)
    }
}
