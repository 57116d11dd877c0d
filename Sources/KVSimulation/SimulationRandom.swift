/// The one source of randomness of a simulated schedule: SplitMix64, seeded once.
///
/// Every choice (delays, losses, faults, operations) is drawn from it in event order, so
/// a seed names one schedule exactly. The helpers avoid the standard library's
/// `random(in:using:)`, whose way of drawing may change between Swift versions.
public struct SimulationRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (bound > 0).
    mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    /// A number in `low...high`.
    mutating func between(_ low: UInt64, _ high: UInt64) -> UInt64 {
        high <= low ? low : low + next() % (high - low + 1)
    }

    /// True `permille` times in a thousand.
    mutating func chance(permille: Int) -> Bool {
        permille > 0 && below(1000) < permille
    }

    mutating func pick<Element>(_ elements: [Element]) -> Element {
        elements[below(elements.count)]
    }

    /// An index drawn in proportion to `weights`.
    mutating func weighted(_ weights: [Int]) -> Int {
        var roll = below(max(1, weights.reduce(0, +)))
        for (index, weight) in weights.enumerated() {
            if roll < weight { return index }
            roll -= weight
        }
        return weights.count - 1
    }
}
