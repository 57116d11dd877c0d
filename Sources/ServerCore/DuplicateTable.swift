import KVProtocol

/// The at-most-once table: each client's latest update and the reply it got.
///
/// Bounded by `capacity` clients; beyond it the client whose latest update is oldest is
/// forgotten. The policy is deterministic (it depends only on the order of updates), so
/// the primary and its backup, applying the same updates, forget the same clients. A
/// retry from a forgotten client is applied again: that is the documented limit of
/// at-most-once (README, "Guarantees and limits").
public struct DuplicateTable: Sendable {
    public struct Entry: Equatable, Sendable {
        public var seq: UInt64
        public var reply: ClientReply
        fileprivate var stamp: UInt64
    }

    public let capacity: Int
    private var entries: [UInt64: Entry] = [:]
    /// (clientID, stamp) in update order; entries whose stamp no longer matches are
    /// superseded and skipped.
    private var order: [(clientID: UInt64, stamp: UInt64)] = []
    private var orderHead = 0
    private var nextStamp: UInt64 = 0

    public init(capacity: Int = 100_000) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { entries.count }

    public func lookup(_ clientID: UInt64) -> Entry? { entries[clientID] }

    public mutating func record(clientID: UInt64, seq: UInt64, reply: ClientReply) {
        nextStamp += 1
        entries[clientID] = Entry(seq: seq, reply: reply, stamp: nextStamp)
        order.append((clientID, nextStamp))
        while entries.count > capacity, orderHead < order.count {
            let oldest = order[orderHead]
            orderHead += 1
            if entries[oldest.clientID]?.stamp == oldest.stamp {
                entries[oldest.clientID] = nil
            }
        }
        compactIfNeeded()
    }

    public mutating func removeAll() {
        entries.removeAll()
        order.removeAll()
        orderHead = 0
    }

    /// The live entries, least recently updated first: the order a backup must insert
    /// them in to evict the same clients as the primary.
    public func entriesInOrder() -> [DuplicateEntry] {
        var result: [DuplicateEntry] = []
        result.reserveCapacity(entries.count)
        for index in orderHead..<order.count {
            let item = order[index]
            if let entry = entries[item.clientID], entry.stamp == item.stamp {
                result.append(DuplicateEntry(clientID: item.clientID, seq: entry.seq, reply: entry.reply))
            }
        }
        return result
    }

    /// Keeps the order list within twice the live entries, so repeated updates by the
    /// same clients do not grow it without bound.
    private mutating func compactIfNeeded() {
        let stored = order.count - orderHead
        guard stored > 64, stored > 2 * entries.count else { return }
        order = order[orderHead...].filter { entries[$0.clientID]?.stamp == $0.stamp }
        orderHead = 0
    }
}
