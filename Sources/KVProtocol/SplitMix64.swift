/// SplitMix64: a small seeded generator, shared by everything that must draw the same
/// "random" choices again from a seed (fault injection, the simulator, benchmarks, chaos
/// clients, tests). Here, in the module every other one depends on, so there is one copy.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (bound > 0), without the standard library's
    /// `random(in:using:)`, whose way of drawing may change between Swift versions.
    public mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}
