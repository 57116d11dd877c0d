/// The calls and returns of one key's operations in time order, as a doubly linked list
/// from which the search lifts an operation it linearizes and into which it puts the
/// operation back when it backtracks (Knuth's dancing links: undo in reverse order).
///
/// Node `2i` is operation i's call, node `2i + 1` its return; one more node is the head.
struct EventList {
    static let none = -1

    let head: Int
    private(set) var next: [Int]
    private var previous: [Int]

    /// `returnedAt` nil is an unknown outcome: its return comes after every other event.
    /// At equal times calls come first, so operations that touch in time count as
    /// concurrent: a clock too coarse to order them must not produce false alarms.
    init(invokedAt: [UInt64], returnedAt: [UInt64?]) {
        struct Event {
            var time: UInt64
            var isReturn: Bool
            var node: Int
        }
        var events: [Event] = []
        events.reserveCapacity(invokedAt.count * 2)
        for index in invokedAt.indices {
            events.append(Event(time: invokedAt[index], isReturn: false, node: 2 * index))
            events.append(Event(time: returnedAt[index] ?? .max, isReturn: true, node: 2 * index + 1))
        }
        events.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.isReturn != b.isReturn { return !a.isReturn }
            return a.node < b.node
        }
        head = events.count
        next = [Int](repeating: Self.none, count: events.count + 1)
        previous = [Int](repeating: Self.none, count: events.count + 1)
        var last = head
        for event in events {
            next[last] = event.node
            previous[event.node] = last
            last = event.node
        }
    }

    static func isCall(_ node: Int) -> Bool { node & 1 == 0 }
    static func operation(of node: Int) -> Int { node >> 1 }

    var isEmpty: Bool { next[head] == Self.none }

    /// Removes an operation's call and return.
    mutating func lift(call: Int) {
        unlink(call)
        unlink(call + 1)
    }

    /// Undoes the latest `lift` not yet undone, which must be `call`'s.
    mutating func unlift(call: Int) {
        relink(call + 1)
        relink(call)
    }

    private mutating func unlink(_ node: Int) {
        next[previous[node]] = next[node]
        if next[node] != Self.none { previous[next[node]] = previous[node] }
    }

    private mutating func relink(_ node: Int) {
        next[previous[node]] = node
        if next[node] != Self.none { previous[next[node]] = node }
    }
}
