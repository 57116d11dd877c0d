/// Reads the fixed shape of a hot command from the front of a buffer's readable bytes.
/// Every method returns nil or false, without a side effect worth undoing, at the first
/// byte out of shape or past the end: the caller then leaves the bytes to the general path.
struct HotCommandReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The names, as three ASCII bytes in one integer, uppercased.
    static let get = name("GET")
    static let set = name("SET")
    static let del = name("DEL")

    private static func name(_ text: StaticString) -> UInt32 {
        text.withUTF8Buffer { UInt32($0[0]) << 16 | UInt32($0[1]) << 8 | UInt32($0[2]) }
    }

    @inline(__always)
    mutating func skip(_ byte: UInt8) -> Bool {
        guard offset < bytes.count, bytes[offset] == byte else { return false }
        offset += 1
        return true
    }

    @inline(__always)
    mutating func lineEnd() -> Bool {
        guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\r"), bytes[offset + 1] == UInt8(ascii: "\n")
        else { return false }
        offset += 2
        return true
    }

    /// Decimal digits (at most 18, as `RESPDecoder` reads them) and the line's end.
    @inline(__always)
    mutating func lengthLine() -> Int? {
        var value = 0
        var digits = 0
        while offset < bytes.count, digits < 18 {
            let byte = bytes[offset]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
            offset += 1
        }
        guard digits > 0, lineEnd() else { return nil }
        return value
    }

    /// Three letters, uppercased: commands are matched without regard to case. Only
    /// letters: `& 0xDF` maps other bytes onto letters too.
    @inline(__always)
    mutating func name() -> UInt32? {
        guard offset + 3 <= bytes.count else { return nil }
        var name: UInt32 = 0
        for index in offset..<offset + 3 {
            let upper = bytes[index] & 0xDF
            guard upper >= UInt8(ascii: "A"), upper <= UInt8(ascii: "Z") else { return nil }
            name = name << 8 | UInt32(upper)
        }
        offset += 3
        return name
    }

    /// A `$n` bulk string within `bounds` (the command's size so far in `sizeSoFar`), whole.
    @inline(__always)
    mutating func bulk(bounds: RESPDecoder.Bounds, sizeSoFar: inout Int) -> UnsafeRawBufferPointer.SubSequence? {
        guard skip(UInt8(ascii: "$")), let length = lengthLine(), length <= bounds.maxBulkLength,
            sizeSoFar + length <= bounds.maxRequestBytes, offset + length + 2 <= bytes.count
        else { return nil }
        let start = offset
        offset += length
        guard lineEnd() else { return nil }
        sizeSoFar += length
        return bytes[start..<start + length]
    }
}
