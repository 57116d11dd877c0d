import KVProtocol

/// A hash of what a schedule did: each event's time and kind, and every message's bytes as
/// the wire would carry them. Two runs of one seed must agree on it, in one process or two
/// (docs/SIMULATION.md), so it must not depend on anything but the seed: FNV-1a, never
/// Swift's `Hasher`, whose seed differs from process to process.
///
/// It is a `WireOutput`, so a message is folded in as `MessageCodec` encodes it, without
/// the bytes being stored anywhere.
struct RunDigest: WireOutput {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    /// Folds 64-bit words in (an event's time, its kind, the node it concerns).
    mutating func mix(_ words: UInt64...) {
        for word in words { value = (value ^ word) &* Self.prime }
    }

    /// Folds a message in, with the exchange it belongs to.
    mutating func mix(_ message: Message, exchange: UInt64) {
        MessageCodec.encode(Frame(requestID: exchange, message: message), into: &self)
    }

    mutating func appendByte(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* Self.prime
    }

    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        var hash = value
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* Self.prime }
        value = hash
    }
}
