/// Appends big-endian integers and length-prefixed fields to a byte array.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    // One append of the big-endian bytes, not one append per byte: encoding a transfer
    // chunk or a large batch is mostly these.
    public mutating func u16(_ value: UInt16) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Several 64-bit integers in a row, in one append: each append costs about a hundred
    /// instructions whatever its length, and an update's fixed fields are mostly these.
    public mutating func u64(_ a: UInt64, _ b: UInt64) {
        withUnsafeBytes(of: (a.bigEndian, b.bigEndian)) { bytes.append(contentsOf: $0) }
    }

    public mutating func u64(_ a: UInt64, _ b: UInt64, _ c: UInt64) {
        withUnsafeBytes(of: (a.bigEndian, b.bigEndian, c.bigEndian)) { bytes.append(contentsOf: $0) }
    }

    public mutating func u64(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64) {
        withUnsafeBytes(of: (a.bigEndian, b.bigEndian, c.bigEndian, d.bigEndian, e.bigEndian)) {
            bytes.append(contentsOf: $0)
        }
    }

    /// A UTF-8 string with a 16-bit length.
    public mutating func string(_ value: String) {
        let utf8 = value.utf8
        u16(UInt16(clamping: utf8.count))
        bytes.append(contentsOf: utf8.prefix(Int(UInt16.max)))
    }

    /// A byte string with a 32-bit length.
    public mutating func blob(_ value: Bytes) {
        u32(UInt32(clamping: value.count))
        // Most replies in a forward carry no value.
        if !value.isEmpty { bytes.append(contentsOf: value) }
    }

    public mutating func raw(_ value: [UInt8]) { bytes.append(contentsOf: value) }
}
