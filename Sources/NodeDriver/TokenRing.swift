/// What waits for an answer, by reply token, in a ring instead of a dictionary: the
/// driver issues tokens one after another, so a token's place in the ring is its number
/// modulo the ring's size, and neither a hash nor an allocation is paid per request.
///
/// Answers may come in any order, so the ring covers every token from the oldest still
/// waiting (`head`) to the next to be issued, holes included. When that span fills the
/// ring, it doubles if at least half of the span still waits; otherwise the oldest
/// entries move out of the ring into `stragglers` until there is room. So one request
/// that waits long (a request held through a state transfer, a forward a slow backup
/// sits on) costs one dictionary entry, not a ring as long as every token issued since.
public struct TokenRing<Element> {
    /// A power of two; `slots[token & mask]` holds the token's element while it waits.
    private var slots: [Element?]
    private var mask: UInt64
    /// The oldest token the ring covers; every older one has its answer or is a straggler.
    private var head: UInt64
    /// The next token to be issued.
    public private(set) var nextToken: UInt64
    /// Entries waiting in the ring.
    private var inRing = 0
    /// Entries older than `head` that still wait.
    private var stragglers: [UInt64: Element] = [:]

    /// - Parameters:
    ///   - firstToken: the first token `insert` issues.
    ///   - capacity: the ring's initial size, rounded up to a power of two.
    public init(firstToken: UInt64 = 1, capacity: Int = 64) {
        var size = 1
        while size < max(capacity, 2) { size *= 2 }
        slots = Array(repeating: nil, count: size)
        mask = UInt64(size - 1)
        head = firstToken
        nextToken = firstToken
    }

    /// How many entries wait.
    public var count: Int { inRing + stragglers.count }
    public var isEmpty: Bool { inRing == 0 && stragglers.isEmpty }
    /// The ring's size (for tests: it grows only when half of it or more waits).
    public var capacity: Int { slots.count }

    /// Stores `element` under the next token, and returns that token.
    public mutating func insert(_ element: Element) -> UInt64 {
        if nextToken - head == UInt64(slots.count) { makeRoom() }
        let token = nextToken
        slots[Int(truncatingIfNeeded: token & mask)] = element
        nextToken += 1
        inRing += 1
        return token
    }

    /// Takes out the element waiting under `token`; nil if none does (never issued, or
    /// answered already).
    public mutating func remove(_ token: UInt64) -> Element? {
        guard token < nextToken else { return nil }
        guard token >= head else { return stragglers.isEmpty ? nil : stragglers.removeValue(forKey: token) }
        let index = Int(truncatingIfNeeded: token & mask)
        guard let element = slots[index] else { return nil }
        slots[index] = nil
        inRing -= 1
        if token == head { skipAnswered() }
        return element
    }

    /// Takes out every waiting element, oldest token first.
    public mutating func removeAll() -> [Element] {
        var all = stragglers.sorted { $0.key < $1.key }.map(\.value)
        stragglers.removeAll()
        while head < nextToken {
            let index = Int(truncatingIfNeeded: head & mask)
            if let element = slots[index] { all.append(element) }
            slots[index] = nil
            head += 1
        }
        inRing = 0
        return all
    }

    /// Moves `head` past the tokens already answered.
    private mutating func skipAnswered() {
        while head < nextToken, slots[Int(truncatingIfNeeded: head & mask)] == nil { head += 1 }
    }

    /// The span from `head` to the next token fills the ring.
    private mutating func makeRoom() {
        if inRing * 2 >= slots.count {
            grow()
            return
        }
        // More than half of the span is holes: the oldest entries leave the ring instead.
        while nextToken - head == UInt64(slots.count) {
            let index = Int(truncatingIfNeeded: head & mask)
            if let element = slots[index] {
                stragglers[head] = element
                slots[index] = nil
                inRing -= 1
            }
            head += 1
            skipAnswered()
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        var larger = [Element?](repeating: nil, count: size)
        let largerMask = UInt64(size - 1)
        var token = head
        while token < nextToken {
            larger[Int(truncatingIfNeeded: token & largerMask)] = slots[Int(truncatingIfNeeded: token & mask)]
            token += 1
        }
        slots = larger
        mask = largerMask
    }
}
