import KVProtocol
import NIOCore

/// A frame being encoded for the transport: the 4-byte length prefix, then the body,
/// written by `MessageCodec.encode(_:into:)` field by field into plain memory, then
/// handed to the channel as one `ByteBuffer` (one copy of the whole frame).
///
/// Not a `ByteBuffer` written field by field: each of its writes checks uniqueness and
/// capacity and copies through a call, about 280 instructions per field of a forwarded
/// update (scripts/bench --callgrind), more than the byte array it replaced. Here a field
/// is a capacity check and a store.
struct FrameBuffer: WireOutput {
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    /// Bytes written, the prefix included.
    private var count = FrameLength.prefixSize

    /// An empty frame with room for about `bodyCapacity` bytes of body. Call
    /// `deallocate()` once done with it.
    init(bodyCapacity: Int) {
        capacity = FrameLength.prefixSize + max(bodyCapacity, 64)
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
    }

    var bodyLength: Int { count - FrameLength.prefixSize }

    /// The frame, its length written into the prefix.
    mutating func buffer(from allocator: ByteBufferAllocator) -> ByteBuffer {
        base.storeBytes(of: UInt32(bodyLength).bigEndian, as: UInt32.self)
        var buffer = allocator.buffer(capacity: count)
        buffer.writeBytes(UnsafeRawBufferPointer(start: base, count: count))
        return buffer
    }

    func deallocate() { base.deallocate() }

    @inline(__always)
    mutating func appendByte(_ byte: UInt8) {
        if _slowPath(count == capacity) { grow(toFit: 1) }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always)
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        if _slowPath(capacity - count < bytes.count) { grow(toFit: bytes.count) }
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    @inline(never)
    private mutating func grow(toFit more: Int) {
        let newCapacity = max(capacity * 2, count + more)
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        grown.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }
}
