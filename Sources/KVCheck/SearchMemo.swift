/// A set of keys, each two words and a short run of words, stored back to back in one
/// array and found through an open-addressing table of offsets: the search's memo (and
/// the table that numbers its sets of unknown outcomes).
///
/// Why not `Set<SomeStruct>`: an array inside each key is a heap object of its own (a
/// header and a reference count per entry), and `Hasher` is seeded per process, which
/// would make the memory a test measures differ from run to run. Here an entry costs its
/// words plus one slot, and the same search always builds the same table. Like Porcupine's
/// cache, a lookup compares keys only when their hashes share a slot's tag.
struct SearchMemo {
    /// Entries back to back: `first`, then `second` with the body's length in its top
    /// `lengthBits` bits, then the body. Two words of header: most bodies are one word.
    private var arena: [UInt64] = []
    /// 0 for an empty slot; otherwise an entry's offset + 1 in the low `offsetBits` bits
    /// and the top bits of its hash above them, which settle most mismatches without
    /// reading the arena.
    private var slots: [UInt64]
    private(set) var count = 0

    private static let offsetBits: UInt64 = 40
    private static let offsetMask: UInt64 = (1 << offsetBits) - 1
    private static let lengthBits: UInt64 = 24
    private static let secondMask: UInt64 = (1 << (64 - lengthBits)) - 1

    init() {
        slots = [UInt64](repeating: 0, count: 64)
    }

    /// The memory the table holds, arena and slots, allocated capacity included.
    var byteCount: Int { (arena.capacity + slots.count) * MemoryLayout<UInt64>.stride }

    /// Adds the key (`first`, `second`, `body`) unless it is there already; either way
    /// returns its offset, a number that names the key for as long as the table lives.
    /// `second` must fit in 40 bits and the body in 2^24 words (an offset, and a window
    /// of operations, far larger than any memory holds).
    mutating func insert(_ first: UInt64, _ second: UInt64, _ body: ArraySlice<UInt64>) -> (
        inserted: Bool, offset: Int
    ) {
        precondition(second & ~Self.secondMask == 0 && body.count >> Self.lengthBits == 0)
        let second = second | UInt64(body.count) << (64 - Self.lengthBits)
        let hash = Self.hash(first, second, body)
        let tag = hash & ~Self.offsetMask
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 {
            let entry = slots[slot]
            if entry & ~Self.offsetMask == tag {
                let offset = Int(entry & Self.offsetMask) - 1
                if matches(offset, first, second, body) { return (false, offset) }
            }
            slot = (slot + 1) & mask
        }
        let offset = arena.count
        arena.append(first)
        arena.append(second)
        arena.append(contentsOf: body)
        slots[slot] = tag | UInt64(offset + 1)
        count += 1
        // At most three quarters full, so a probe meets an empty slot soon.
        if count * 4 > slots.count * 3 { grow() }
        return (true, offset)
    }

    private func matches(_ offset: Int, _ first: UInt64, _ second: UInt64, _ body: ArraySlice<UInt64>) -> Bool {
        guard arena[offset] == first, arena[offset + 1] == second else { return false }
        var index = offset + 2
        for word in body {
            if arena[index] != word { return false }
            index += 1
        }
        return true
    }

    private mutating func grow() {
        var bigger = [UInt64](repeating: 0, count: slots.count * 2)
        let mask = bigger.count - 1
        for entry in slots where entry != 0 {
            let offset = Int(entry & Self.offsetMask) - 1
            let length = Int(arena[offset + 1] >> (64 - Self.lengthBits))
            let hash = Self.hash(arena[offset], arena[offset + 1], arena[offset + 2..<offset + 2 + length])
            var slot = Int(truncatingIfNeeded: hash) & mask
            while bigger[slot] != 0 { slot = (slot + 1) & mask }
            bigger[slot] = entry
        }
        slots = bigger
    }

    private static func hash(_ first: UInt64, _ second: UInt64, _ body: ArraySlice<UInt64>) -> UInt64 {
        var hash = mix(first &+ 0x9E37_79B9_7F4A_7C15)
        hash = mix(hash ^ second)
        for word in body { hash = mix(hash ^ word) }
        return hash
    }

    /// SplitMix64's finaliser: every input bit moves about half the output bits, so both
    /// the low bits (the slot) and the high bits (the tag) spread well.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
