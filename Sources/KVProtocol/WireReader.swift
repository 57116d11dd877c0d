/// Reads what `WireWriter` writes, checking every length against the bytes left, so a
/// hostile length can neither read out of bounds nor make us allocate more than the
/// frame already holds.
///
/// It reads memory in place: either its own copy of an array, or bytes lent by the
/// caller for the duration of a call (`init(borrowing:)`, how the transport decodes a
/// frame straight out of the buffer it was received in, so that a key or a value is
/// copied once, into the array the store keeps).
public struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    /// Owns `bytes` when the reader was made from an array; nil when they are borrowed.
    private let owner: OwnedBytes?
    public private(set) var index: Int

    /// A reader over a copy of `bytes`.
    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { WireReader(copying: $0) }
    }

    /// A reader over a copy of `bytes`.
    public init(copying bytes: UnsafeRawBufferPointer) {
        let owner = OwnedBytes(copying: bytes)
        self.owner = owner
        self.bytes = UnsafeRawBufferPointer(owner.bytes)
        self.index = 0
    }

    /// A reader over `bytes` in place. They must stay valid and unchanged while the reader
    /// is used: use it only inside the scope that lent them, and never let it escape.
    public init(borrowing bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.owner = nil
        self.index = 0
    }

    public var remaining: Int { bytes.count - index }

    @inline(__always)
    private func need(_ count: Int, _ what: StaticString) throws(ProtocolError) {
        if _slowPath(count < 0 || count > remaining) { throw truncated(count, what) }
    }

    // Out of line: the text is built only for a frame that is cut short.
    @inline(never)
    private func truncated(_ count: Int, _ what: StaticString) -> ProtocolError {
        ProtocolError(.malformedFrame, "truncated \(what): need \(count) bytes, have \(remaining)")
    }

    @inline(__always)
    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: StaticString) throws(ProtocolError) -> T {
        try need(MemoryLayout<T>.size, what)
        defer { index += MemoryLayout<T>.size }
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: index, as: T.self))
    }

    @inline(__always)
    public mutating func u8(_ what: StaticString = "byte") throws(ProtocolError) -> UInt8 {
        try load(UInt8.self, what)
    }

    public mutating func bool(_ what: StaticString = "flag") throws(ProtocolError) -> Bool {
        switch try u8(what) {
        case 0: return false
        case 1: return true
        case let other: throw ProtocolError(.malformedFrame, "\(what): \(other) is not a boolean")
        }
    }

    @inline(__always)
    public mutating func u16(_ what: StaticString = "u16") throws(ProtocolError) -> UInt16 {
        try load(UInt16.self, what)
    }

    @inline(__always)
    public mutating func u32(_ what: StaticString = "u32") throws(ProtocolError) -> UInt32 {
        try load(UInt32.self, what)
    }

    @inline(__always)
    public mutating func u64(_ what: StaticString = "u64") throws(ProtocolError) -> UInt64 {
        try load(UInt64.self, what)
    }

    public mutating func string(_ what: StaticString = "string", max: Int = Limits.maxAddressSize)
        throws(ProtocolError) -> String
    {
        let count = Int(try u16(what))
        if count > max { throw ProtocolError(.malformedFrame, "\(what) longer than \(max) bytes") }
        try need(count, what)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[index..<index + count])
        index += count
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw ProtocolError(.malformedFrame, "\(what) is not valid UTF-8")
        }
        return string
    }

    @inline(__always)
    public mutating func blob(_ what: StaticString = "bytes", max: Int) throws(ProtocolError) -> Bytes {
        let count = Int(try u32(what))
        if count > max { throw ProtocolError(.malformedFrame, "\(what) of \(count) bytes exceeds \(max)") }
        return try raw(count, what)
    }

    @inline(__always)
    public mutating func raw(_ count: Int, _ what: StaticString) throws(ProtocolError) -> [UInt8] {
        try need(count, what)
        defer { index += count }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[index..<index + count]))
    }

    /// A count of items that each take at least `minItemSize` bytes: a count that cannot
    /// fit in what is left is rejected before anything is allocated for it.
    public mutating func count(_ what: StaticString, minItemSize: Int) throws(ProtocolError) -> Int {
        let count = Int(try u32(what))
        if count > remaining / max(minItemSize, 1) {
            throw ProtocolError(.malformedFrame, "\(what) count \(count) exceeds the frame")
        }
        return count
    }

    public func expectEnd() throws(ProtocolError) {
        if remaining != 0 { throw ProtocolError(.malformedFrame, "\(remaining) trailing bytes") }
    }
}

/// A reader's own copy of the bytes it reads, freed with the last reader that shares it.
private final class OwnedBytes {
    let bytes: UnsafeMutableRawBufferPointer

    init(copying source: UnsafeRawBufferPointer) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: source.count, alignment: 8)
        if let base = source.baseAddress { bytes.baseAddress!.copyMemory(from: base, byteCount: source.count) }
    }

    deinit { bytes.deallocate() }
}
