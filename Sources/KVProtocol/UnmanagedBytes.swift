/// Bytes in plain memory, written field by field, for the encoders on the request path:
/// the transport's frames and the log's records. A field is a capacity check and a store;
/// a `ByteBuffer` or `[UInt8]` checks uniqueness and capacity and copies through a call
/// for each (100–280 instructions a field of a forwarded update, scripts/bench
/// --callgrind).
///
/// Unmanaged: a copy of the value shares the memory, and the owner frees it once with
/// `deallocate()` (a `defer` around one encoding, or the deinit of the class that keeps it).
public struct UnmanagedBytes: WireOutput {
    @usableFromInline var base: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int
    @usableFromInline var written = 0

    /// Empty, with room for `capacity` bytes (at least 64).
    public init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 8)
    }

    public func deallocate() { base.deallocate() }

    /// Bytes written.
    public var count: Int { written }

    /// The bytes written, valid until the next append or `deallocate()`.
    public var contents: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: written) }

    /// The bytes written, to fill in fields left blank (a length, a checksum); valid until
    /// the next append or `deallocate()`.
    public var mutableContents: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base, count: written)
    }

    @inlinable @inline(__always)
    public mutating func appendByte(_ byte: UInt8) {
        if _slowPath(written == capacity) { grow(toFit: 1) }
        base.storeBytes(of: byte, toByteOffset: written, as: UInt8.self)
        written += 1
    }

    @inlinable @inline(__always)
    public mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        if _slowPath(capacity - written < bytes.count) { grow(toFit: bytes.count) }
        (base + written).copyMemory(from: source, byteCount: bytes.count)
        written += bytes.count
    }

    /// `length` zero bytes: padding, or a field filled in later.
    @inlinable
    public mutating func appendZeros(_ length: Int) {
        if _slowPath(capacity - written < length) { grow(toFit: length) }
        (base + written).initializeMemory(as: UInt8.self, repeating: 0, count: length)
        written += length
    }

    @usableFromInline @inline(never)
    mutating func grow(toFit more: Int) {
        let newCapacity = max(capacity * 2, written + more)
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        grown.copyMemory(from: base, byteCount: written)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }
}
