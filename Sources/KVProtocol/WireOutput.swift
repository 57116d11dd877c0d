/// Where the wire encoding appends its bytes: a byte array (`WireWriter`: the log, tests)
/// or, in the transport, the very buffer a frame leaves from, so that a forward batch is
/// encoded once, straight into the socket's buffer.
///
/// The encoders (`MessageCodec.encode(_:into:)`, the `append` family in TxnCoding.swift)
/// are generic over it and inlinable, so the transport's module specialises them for its
/// buffer instead of calling through the protocol for every field.
public protocol WireOutput {
    mutating func appendByte(_ byte: UInt8)
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer)
}

extension WireOutput {
    @inlinable
    public mutating func u8(_ value: UInt8) { appendByte(value) }

    @inlinable
    public mutating func bool(_ value: Bool) { appendByte(value ? 1 : 0) }

    // One write of the big-endian bytes, not one per byte: encoding a transfer chunk or a
    // large batch is mostly these.
    @inlinable
    public mutating func u16(_ value: UInt16) {
        withUnsafeBytes(of: value.bigEndian) { appendBytes($0) }
    }

    @inlinable
    public mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { appendBytes($0) }
    }

    @inlinable
    public mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { appendBytes($0) }
    }

    /// Several 64-bit integers in a row, in one write: each append to an array costs about
    /// a hundred instructions whatever its length, and an update's fixed fields are mostly
    /// these.
    @inlinable
    public mutating func u64(_ a: UInt64, _ b: UInt64) {
        withUnsafeBytes(of: (a.bigEndian, b.bigEndian)) { appendBytes($0) }
    }

    @inlinable
    public mutating func u64(_ a: UInt64, _ b: UInt64, _ c: UInt64) {
        withUnsafeBytes(of: (a.bigEndian, b.bigEndian, c.bigEndian)) { appendBytes($0) }
    }

    @inlinable
    public mutating func u64(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64) {
        withUnsafeBytes(of: (a.bigEndian, b.bigEndian, c.bigEndian, d.bigEndian, e.bigEndian)) { appendBytes($0) }
    }

    /// A UTF-8 string with a 16-bit length.
    @inlinable
    public mutating func string(_ value: String) {
        var utf8 = value
        utf8.withUTF8 { bytes in
            let count = min(bytes.count, Int(UInt16.max))
            u16(UInt16(count))
            appendBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[0..<count]))
        }
    }

    /// A byte string with a 32-bit length.
    @inlinable
    public mutating func blob(_ value: Bytes) {
        u32(UInt32(clamping: value.count))
        // Most replies in a forward carry no value.
        if !value.isEmpty { value.withUnsafeBytes { appendBytes($0) } }
    }

    @inlinable
    public mutating func raw(_ value: [UInt8]) { value.withUnsafeBytes { appendBytes($0) } }
}
