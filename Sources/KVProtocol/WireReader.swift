/// Reads what `WireWriter` writes, checking every length against the bytes left, so a
/// hostile length can neither read out of bounds nor make us allocate more than the
/// frame already holds.
public struct WireReader {
    private let bytes: [UInt8]
    public private(set) var index: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.index = 0
    }

    public var remaining: Int { bytes.count - index }

    private mutating func need(_ count: Int, _ what: StaticString) throws(ProtocolError) {
        if count < 0 || count > remaining {
            throw ProtocolError(.malformedFrame, "truncated \(what): need \(count) bytes, have \(remaining)")
        }
    }

    public mutating func u8(_ what: StaticString = "byte") throws(ProtocolError) -> UInt8 {
        try need(1, what)
        defer { index += 1 }
        return bytes[index]
    }

    public mutating func bool(_ what: StaticString = "flag") throws(ProtocolError) -> Bool {
        switch try u8(what) {
        case 0: return false
        case 1: return true
        case let other: throw ProtocolError(.malformedFrame, "\(what): \(other) is not a boolean")
        }
    }

    public mutating func u16(_ what: StaticString = "u16") throws(ProtocolError) -> UInt16 {
        try need(2, what)
        defer { index += 2 }
        return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
    }

    public mutating func u32(_ what: StaticString = "u32") throws(ProtocolError) -> UInt32 {
        try need(4, what)
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 8 | UInt32(bytes[index + offset]) }
        index += 4
        return value
    }

    public mutating func u64(_ what: StaticString = "u64") throws(ProtocolError) -> UInt64 {
        try need(8, what)
        var value: UInt64 = 0
        for offset in 0..<8 { value = value << 8 | UInt64(bytes[index + offset]) }
        index += 8
        return value
    }

    public mutating func string(_ what: StaticString = "string", max: Int = Limits.maxAddressSize)
        throws(ProtocolError) -> String
    {
        let count = Int(try u16(what))
        if count > max { throw ProtocolError(.malformedFrame, "\(what) longer than \(max) bytes") }
        try need(count, what)
        let slice = bytes[index..<index + count]
        index += count
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw ProtocolError(.malformedFrame, "\(what) is not valid UTF-8")
        }
        return string
    }

    public mutating func blob(_ what: StaticString = "bytes", max: Int) throws(ProtocolError) -> Bytes {
        let count = Int(try u32(what))
        if count > max { throw ProtocolError(.malformedFrame, "\(what) of \(count) bytes exceeds \(max)") }
        try need(count, what)
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    public mutating func raw(_ count: Int, _ what: StaticString) throws(ProtocolError) -> [UInt8] {
        try need(count, what)
        defer { index += count }
        return Array(bytes[index..<index + count])
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
