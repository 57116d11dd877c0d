import KVProtocol

/// A key as the store's hash tables hold it: the key's bytes, hashed in one call over
/// their contiguous storage and compared eight bytes at a time.
///
/// `[UInt8]`'s own `Hashable` feeds the hasher one byte at a time (a call per byte),
/// which was most of a SET's and of a forwarded SET's hashing (docs/PERFORMANCE.md).
/// The wrapper holds the array itself, so building one from a key costs nothing and a
/// table entry is no larger.
struct StoreKey: Hashable, Sendable {
    var bytes: Bytes

    @inline(__always)
    init(_ bytes: Bytes) { self.bytes = bytes }

    @inline(__always)
    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    @inline(__always)
    static func == (lhs: StoreKey, rhs: StoreKey) -> Bool {
        lhs.bytes.withUnsafeBytes { x in rhs.bytes.withUnsafeBytes { y in ByteOrder.equal(x, y) } }
    }
}
