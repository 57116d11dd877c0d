import KVProtocol
import NIOCore

/// Reads whole RESP2 or RESP3 values of the types the server writes: what a client reads
/// from a server. The server itself reads commands with `RESPDecoder`; this side exists
/// for clients and tests.
///
/// Lengths are bounded as in `RESPDecoder.Bounds`, and nesting by `maxDepth`.
public struct RESPValueParser: Sendable {
    public var maxBulkLength = Limits.maxValueSize
    public var maxArrayLength = 1 << 20
    public var maxDepth = 16

    public init() {}

    /// The next value in `buffer`, consuming its bytes; nil (nothing consumed) while it is
    /// incomplete.
    public func parse(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        var copy = buffer
        guard let value = try parseValue(&copy, depth: 0) else { return nil }
        buffer = copy
        return value
    }

    private func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth <= maxDepth else { throw RESPProtocolError("values nested deeper than \(maxDepth)") }
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard let line = try readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(line)
        case UInt8(ascii: "-"):
            return .error(line)
        case UInt8(ascii: ":"):
            guard let number = Int64(line) else { throw RESPProtocolError("invalid integer '\(line)'") }
            return .integer(number)
        case UInt8(ascii: "$"):
            guard let length = Int(line), length >= -1, length <= maxBulkLength else {
                throw RESPProtocolError("invalid bulk length '\(line)'")
            }
            if length == -1 { return .null }
            guard buffer.readableBytes >= length + 2 else { return nil }
            let bytes = buffer.readBytes(length: length)!
            guard buffer.readBytes(length: 2) == [UInt8(ascii: "\r"), UInt8(ascii: "\n")] else {
                throw RESPProtocolError("bulk string not followed by CR LF")
            }
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(line), count >= -1, count <= maxArrayLength else {
                throw RESPProtocolError("invalid array length '\(line)'")
            }
            if count == -1 { return .nullArray }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(count, 64))
            for _ in 0..<count {
                guard let element = try parseValue(&buffer, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        case UInt8(ascii: "_"):
            return .null
        case UInt8(ascii: ","):
            guard let number = Double(line) ?? Self.specialDouble(line) else {
                throw RESPProtocolError("invalid double '\(line)'")
            }
            return .double(number)
        case UInt8(ascii: "="):
            guard let length = Int(line), length >= 4, length <= maxBulkLength else {
                throw RESPProtocolError("invalid verbatim string length '\(line)'")
            }
            guard buffer.readableBytes >= length + 2 else { return nil }
            let bytes = buffer.readBytes(length: length)!
            guard buffer.readBytes(length: 2) == [UInt8(ascii: "\r"), UInt8(ascii: "\n")] else {
                throw RESPProtocolError("verbatim string not followed by CR LF")
            }
            // The first four bytes name the format ("txt:").
            return .verbatim(String(decoding: bytes.dropFirst(4), as: UTF8.self))
        case UInt8(ascii: "%"):
            guard let count = Int(line), count >= 0, count <= maxArrayLength else {
                throw RESPProtocolError("invalid map length '\(line)'")
            }
            var pairs: [RESPValue.Pair] = []
            for _ in 0..<count {
                guard let key = try parseValue(&buffer, depth: depth + 1),
                    let value = try parseValue(&buffer, depth: depth + 1)
                else { return nil }
                pairs.append(RESPValue.Pair(key, value))
            }
            return .map(pairs)
        default:
            throw RESPProtocolError("unknown type byte '\(RESPDecoder.printable(type))'")
        }
    }

    private static func specialDouble(_ text: String) -> Double? {
        switch text {
        case "inf": .infinity
        case "-inf": -.infinity
        case "nan": .nan
        default: nil
        }
    }

    /// The text after the type byte, up to CR LF; consumed with it.
    private func readLine(_ buffer: inout ByteBuffer) throws -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else { return nil }
        guard cr + 1 < view.endIndex else { return nil }
        guard view[cr + 1] == UInt8(ascii: "\n") else { throw RESPProtocolError("CR not followed by LF") }
        let text = String(decoding: view[(view.startIndex + 1)..<cr], as: UTF8.self)
        buffer.moveReaderIndex(to: cr + 2)
        return text
    }
}
