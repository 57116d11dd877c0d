import KVProtocol
import NIOCore

/// A frame being encoded for the transport: the 4-byte length prefix, then the body,
/// written by `MessageCodec.encode(_:into:)` field by field into plain memory
/// (`UnmanagedBytes`), then handed to the channel as one `ByteBuffer` (one copy of the
/// whole frame).
struct FrameBuffer: WireOutput {
    private var bytes: UnmanagedBytes

    /// An empty frame with room for about `bodyCapacity` bytes of body. Call
    /// `deallocate()` once done with it.
    init(bodyCapacity: Int) {
        bytes = UnmanagedBytes(capacity: FrameLength.prefixSize + max(bodyCapacity, 64))
        bytes.appendZeros(FrameLength.prefixSize)
    }

    var bodyLength: Int { bytes.count - FrameLength.prefixSize }

    /// The frame, its length written into the prefix.
    mutating func buffer(from allocator: ByteBufferAllocator) -> ByteBuffer {
        bytes.mutableContents.storeBytes(of: UInt32(bodyLength).bigEndian, as: UInt32.self)
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes.contents)
        return buffer
    }

    func deallocate() { bytes.deallocate() }

    @inline(__always)
    mutating func appendByte(_ byte: UInt8) { bytes.appendByte(byte) }

    @inline(__always)
    mutating func appendBytes(_ raw: UnsafeRawBufferPointer) { bytes.appendBytes(raw) }
}
