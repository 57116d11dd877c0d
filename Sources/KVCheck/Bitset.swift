/// A set of small non-negative integers as bits: the search's set of operations linearized
/// so far, whose words go into its memo keys.
struct Bitset {
    private(set) var words: [UInt64]

    init(capacity: Int) {
        words = [UInt64](repeating: 0, count: (capacity + 63) / 64)
    }

    mutating func insert(_ member: Int) {
        words[member >> 6] |= 1 << UInt64(member & 63)
    }

    mutating func remove(_ member: Int) {
        words[member >> 6] &= ~(1 << UInt64(member & 63))
    }

    /// The smallest non-member at or after `start` (the capacity rounded up to whole words
    /// when every bit from `start` on is set). The search asks just past its frontier,
    /// where the members form a short run, so this reads a word or two.
    func firstAbsent(from start: Int) -> Int {
        var index = start >> 6
        guard index < words.count else { return start }
        var free = ~words[index] & (UInt64.max << UInt64(start & 63))
        while free == 0 {
            index += 1
            guard index < words.count else { return words.count * 64 }
            free = ~words[index]
        }
        return index * 64 + free.trailingZeroBitCount
    }
}
