import KVProtocol

/// The one source of randomness of a simulated schedule: SplitMix64, seeded once.
///
/// Every choice (delays, losses, faults, operations) is drawn from it in event order, so
/// a seed names one schedule exactly. The helpers avoid the standard library's
/// `random(in:using:)`, whose way of drawing may change between Swift versions.
public struct SimulationRandom: RandomNumberGenerator, Sendable {
    private var generator: SplitMix64

    public init(seed: UInt64) {
        generator = SplitMix64(seed: seed)
    }

    public mutating func next() -> UInt64 { generator.next() }

    /// A number in `0..<bound` (bound > 0).
    mutating func below(_ bound: Int) -> Int { generator.below(bound) }

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
