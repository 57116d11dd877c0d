import KVProtocol

/// The at-most-once table: each client's latest update and the reply it got.
///
/// Bounded by `capacity` clients; beyond it the client whose latest update is oldest is
/// forgotten. The policy is deterministic (it depends only on the order of updates), so
/// the primary and its backup, applying the same updates, forget the same clients. A
/// retry from a forgotten client is applied again: that is the documented limit of
/// at-most-once (README, "Guarantees and limits").
///
/// The entries live in an array, linked from least to most recently updated, and the
/// hash table maps a client id to its entry's place: recording an update hashes the
/// client id once (find or insert in one probe) and moves its entry to the newest end,
/// with no list of stale positions to compact later.
public struct DuplicateTable: Sendable {
    public struct Entry: Equatable, Sendable {
        public var seq: UInt64
        public var reply: ClientReply
    }

    /// One client's entry, with its neighbours in update order (`none` at either end).
    private struct Node: Sendable {
        var clientID: UInt64
        var entry: Entry
        var older: Int
        var newer: Int
    }

    private static let none = -1

    public let capacity: Int
    private var placeOf: [UInt64: Int] = [:]
    private var nodes: [Node] = []
    /// Places of forgotten clients, reused before the array grows.
    private var freePlaces: [Int] = []
    private var oldest = DuplicateTable.none
    private var newest = DuplicateTable.none

    public init(capacity: Int = 100_000) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { placeOf.count }

    public func lookup(_ clientID: UInt64) -> Entry? {
        guard let place = placeOf[clientID] else { return nil }
        return nodes[place].entry
    }

    public mutating func record(clientID: UInt64, seq: UInt64, reply: ClientReply) {
        let entry = Entry(seq: seq, reply: reply)
        let vacant = freePlaces.last ?? nodes.count
        // One probe: the client's place if it has one, else `vacant`, claimed for it.
        let place = Self.claim(&placeOf[clientID, default: Self.none], vacant)
        // No client holds a free place or one past the array's end: `vacant` means new.
        if place == vacant {
            let node = Node(clientID: clientID, entry: entry, older: newest, newer: Self.none)
            if vacant == nodes.count {
                nodes.append(node)
            } else {
                freePlaces.removeLast()
                nodes[vacant] = node
            }
        } else {
            nodes[place].entry = entry
            guard place != newest else { return }
            unlink(place)
            nodes[place].older = newest
            nodes[place].newer = Self.none
        }
        if newest != Self.none { nodes[newest].newer = place } else { oldest = place }
        newest = place
        if placeOf.count > capacity { forgetOldest() }
    }

    /// The place in `slot`, or `vacant` written there when the slot is new (`none`).
    @inline(__always)
    private static func claim(_ slot: inout Int, _ vacant: Int) -> Int {
        if slot == none { slot = vacant }
        return slot
    }

    private mutating func unlink(_ place: Int) {
        let (older, newer) = (nodes[place].older, nodes[place].newer)
        if older != Self.none { nodes[older].newer = newer } else { oldest = newer }
        if newer != Self.none { nodes[newer].older = older } else { newest = older }
    }

    private mutating func forgetOldest() {
        let place = oldest
        placeOf.removeValue(forKey: nodes[place].clientID)
        unlink(place)
        // Drop the reply's storage now; the place is reused by the next new client.
        nodes[place].entry = Entry(seq: 0, reply: ClientReply(status: .ok))
        nodes[place].older = Self.none
        nodes[place].newer = Self.none
        freePlaces.append(place)
    }

    public mutating func removeAll() {
        placeOf.removeAll()
        nodes.removeAll()
        freePlaces.removeAll()
        oldest = Self.none
        newest = Self.none
    }

    /// The live entries, least recently updated first: the order a backup must insert
    /// them in to evict the same clients as the primary.
    public func entriesInOrder() -> [DuplicateEntry] {
        var result: [DuplicateEntry] = []
        result.reserveCapacity(placeOf.count)
        var place = oldest
        while place != Self.none {
            let node = nodes[place]
            result.append(DuplicateEntry(clientID: node.clientID, seq: node.entry.seq, reply: node.entry.reply))
            place = node.newer
        }
        return result
    }
}
