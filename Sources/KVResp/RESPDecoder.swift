import KVProtocol
import NIOCore

/// Splits a client's byte stream into commands, each the list of its arguments (the
/// command name first): RESP2 arrays of bulk strings, which every client library sends,
/// and inline commands (a line of words separated by spaces, no quoting), which a person
/// typing into `nc` sends.
///
/// Every announced length is checked against `bounds` before anything is allocated or
/// waited for, so a peer cannot make the server buffer more than `maxRequestBytes` of
/// arguments for one command. A partly received array keeps the arguments read so far:
/// a large command arriving in many reads is not parsed again from its start each time.
public struct RESPDecoder: ByteToMessageDecoder {
    public typealias InboundOut = [Bytes]

    public struct Bounds: Sendable, Equatable {
        /// Longest bulk string (one argument): the largest value the store takes.
        public var maxBulkLength = Limits.maxValueSize
        /// Most elements in a command's array, the command name included.
        public var maxArrayLength = 4096
        /// Longest inline command, its line end included.
        public var maxInlineLength = 64 * 1024
        /// Most argument bytes in one command; a SET of a maximal key and value fits.
        public var maxRequestBytes = Limits.maxFrameSize

        public init() {}
    }

    /// Longest `*n` or `$n` line, CR LF included: room for any length that fits the bounds.
    static let maxLengthLineSize = 24

    public let bounds: Bounds
    private var partial: PartialCommand?

    /// An array whose elements have not all arrived.
    private struct PartialCommand {
        var expected: Int
        var arguments: [Bytes]
        var bytes: Int
    }

    public init(bounds: Bounds = Bounds()) {
        self.bounds = bounds
    }

    /// Part of an array has been read (its arguments so far are kept here).
    var isMidCommand: Bool { partial != nil }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let command = try decodeCommand(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(command))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A command cut short by the end of the stream can never be answered: dropped.
        return .needMoreData
    }

    /// The next complete command in `buffer`, consuming its bytes; nil when more bytes are
    /// needed (what was read of a partial array is kept, and consumed).
    public mutating func decodeCommand(from buffer: inout ByteBuffer) throws -> [Bytes]? {
        while true {
            if partial == nil {
                guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
                guard first == UInt8(ascii: "*") else {
                    guard let words = try readInline(from: &buffer) else { return nil }
                    if words.isEmpty { continue }
                    return words
                }
                guard let (count, lineSize) = try lengthLine(in: buffer, what: "multibulk length") else { return nil }
                buffer.moveReaderIndex(forwardBy: lineSize)
                // "*0" and "*-1" carry no command; Redis skips them too.
                if count <= 0 { continue }
                guard count <= bounds.maxArrayLength else {
                    throw RESPProtocolError(
                        "invalid multibulk length \(count) (at most \(bounds.maxArrayLength) arguments)")
                }
                partial = PartialCommand(expected: count, arguments: [], bytes: 0)
                partial!.arguments.reserveCapacity(min(count, 16))
            }
            while partial!.arguments.count < partial!.expected {
                guard let argument = try readBulk(from: &buffer, bytesSoFar: partial!.bytes) else { return nil }
                partial!.bytes += argument.count
                partial!.arguments.append(argument)
            }
            let arguments = partial!.arguments
            partial = nil
            return arguments
        }
    }

    /// One `$n` bulk string, consumed only once it has arrived whole.
    private func readBulk(from buffer: inout ByteBuffer, bytesSoFar: Int) throws -> Bytes? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard first == UInt8(ascii: "$") else {
            throw RESPProtocolError("expected '$', got '\(Self.printable(first))'")
        }
        guard let (length, lineSize) = try lengthLine(in: buffer, what: "bulk length") else { return nil }
        guard length >= 0, length <= bounds.maxBulkLength else {
            throw RESPProtocolError("invalid bulk length \(length) (at most \(bounds.maxBulkLength) bytes)")
        }
        guard bytesSoFar + length <= bounds.maxRequestBytes else {
            throw RESPProtocolError("command larger than \(bounds.maxRequestBytes) bytes")
        }
        guard buffer.readableBytes >= lineSize + length + 2 else { return nil }
        let end = buffer.readerIndex + lineSize + length
        guard buffer.getInteger(at: end, as: UInt8.self) == UInt8(ascii: "\r"),
            buffer.getInteger(at: end + 1, as: UInt8.self) == UInt8(ascii: "\n")
        else {
            throw RESPProtocolError("bulk string of \(length) bytes not followed by CR LF")
        }
        buffer.moveReaderIndex(forwardBy: lineSize)
        let bytes = buffer.readBytes(length: length)!
        buffer.moveReaderIndex(forwardBy: 2)
        return bytes
    }

    /// The number on a `*n\r\n` or `$n\r\n` line at the reader index, and the line's size;
    /// nothing is consumed. Nil while the line is incomplete.
    private func lengthLine(in buffer: ByteBuffer, what: String) throws -> (value: Int, size: Int)? {
        let start = buffer.readerIndex
        let available = min(buffer.readableBytes, Self.maxLengthLineSize)
        var value = 0
        var digits = 0
        var negative = false
        var index = 1
        while index < available {
            let byte = buffer.getInteger(at: start + index, as: UInt8.self)!
            switch byte {
            case UInt8(ascii: "\r"):
                guard index + 1 < buffer.readableBytes else { return nil }
                guard buffer.getInteger(at: start + index + 1, as: UInt8.self) == UInt8(ascii: "\n"), digits > 0
                else { throw RESPProtocolError("invalid \(what)") }
                return (negative ? -value : value, index + 2)
            case UInt8(ascii: "-") where index == 1:
                negative = true
            case UInt8(ascii: "0")...UInt8(ascii: "9") where digits < 18:
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
            default:
                throw RESPProtocolError("invalid \(what)")
            }
            index += 1
        }
        if buffer.readableBytes >= Self.maxLengthLineSize { throw RESPProtocolError("invalid \(what)") }
        return nil
    }

    /// A line of words separated by spaces or tabs, once its LF has arrived.
    private func readInline(from buffer: inout ByteBuffer) throws -> [Bytes]? {
        let searched = min(buffer.readableBytes, bounds.maxInlineLength)
        let newline = buffer.withUnsafeReadableBytes { $0.prefix(searched).firstIndex(of: UInt8(ascii: "\n")) }
        guard let newline else {
            if buffer.readableBytes >= bounds.maxInlineLength {
                throw RESPProtocolError("too big inline request (over \(bounds.maxInlineLength) bytes)")
            }
            return nil
        }
        let line = buffer.readSlice(length: newline + 1)!
        return line.withUnsafeReadableBytes { bytes in
            bytes.dropLast()
                .split(whereSeparator: {
                    $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r")
                })
                .map { Bytes($0) }
        }
    }

    static func printable(_ byte: UInt8) -> String {
        (0x20...0x7E).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}
