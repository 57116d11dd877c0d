import KVProtocol
import NIOCore

/// Writes replies as bytes, each in the protocol version it carries, as a pipeline
/// handler (`MessageToByteHandler`) for a channel that carries replies. The endpoint's
/// connections do not use it: `RESPConnectionHandler` encodes into its own buffer.
public struct RESPEncoder: MessageToByteEncoder {
    public typealias OutboundIn = RESPReply

    public init() {}

    public func encode(data: RESPReply, out: inout ByteBuffer) {
        out.writeRESPValue(data.value, version: data.version)
    }
}

extension ByteBuffer {
    /// Appends `value` in `version`'s encoding (RESP2 by default: what a client sends).
    @discardableResult
    public mutating func writeRESPValue(_ value: RESPValue, version: RESPProtocol = .resp2) -> Int {
        let start = writerIndex
        switch value {
        case .simpleString(let text):
            // The reply to every SET: one write of constant bytes.
            if text == "OK" { writeStaticString("+OK\r\n") } else { writeLine(prefix: "+", text) }
        case .error(let text):
            writeLine(prefix: "-", text)
        case .integer(let number):
            writeNumberLine(prefix: UInt8(ascii: ":"), number)
        case .bulkString(let bytes):
            writeBulk(prefix: UInt8(ascii: "$"), bytes)
        case .null:
            writeStaticString(version == .resp3 ? "_\r\n" : "$-1\r\n")
        case .nullArray:
            writeStaticString(version == .resp3 ? "_\r\n" : "*-1\r\n")
        case .array(let elements):
            writeLine(prefix: "*", String(elements.count))
            for element in elements { writeRESPValue(element, version: version) }
        case .map(let pairs):
            if version == .resp3 {
                writeLine(prefix: "%", String(pairs.count))
            } else {
                writeLine(prefix: "*", String(2 * pairs.count))
            }
            for pair in pairs {
                writeRESPValue(pair.key, version: version)
                writeRESPValue(pair.value, version: version)
            }
        case .double(let number):
            let text = Self.doubleText(number)
            if version == .resp3 {
                writeLine(prefix: ",", text)
            } else {
                writeBulk(prefix: UInt8(ascii: "$"), Bytes(text.utf8))
            }
        case .verbatim(let text):
            if version == .resp3 {
                writeBulk(prefix: UInt8(ascii: "="), Bytes(("txt:" + text).utf8))
            } else {
                writeBulk(prefix: UInt8(ascii: "$"), Bytes(text.utf8))
            }
        }
        return writerIndex - start
    }

    /// RESP3's spelling of a double: `inf`, `-inf`, `nan`, or the shortest decimal text.
    private static func doubleText(_ number: Double) -> String {
        if number.isNaN { return "nan" }
        if number.isInfinite { return number < 0 ? "-inf" : "inf" }
        return number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : "\(number)"
    }

    private mutating func writeBulk(prefix: UInt8, _ bytes: Bytes) {
        writeNumberLine(prefix: prefix, Int64(bytes.count))
        writeBytes(bytes)
        writeStaticString("\r\n")
    }

    /// `prefix`, `number` in decimal and CR LF, in one write and without a `String`: the
    /// line before every bulk reply, and every integer reply.
    private mutating func writeNumberLine(prefix: UInt8, _ number: Int64) {
        // The prefix, a sign, 19 digits at most and CR LF.
        writeWithUnsafeMutableBytes(minimumWritableBytes: 23) { out in
            out[0] = prefix
            var end = 1
            if number < 0 {
                out[1] = UInt8(ascii: "-")
                end = 2
            }
            var magnitude = number.magnitude
            var digits = 1
            var rest = magnitude / 10
            while rest > 0 {
                digits += 1
                rest /= 10
            }
            end += digits
            var position = end
            repeat {
                position -= 1
                out[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            out[end] = UInt8(ascii: "\r")
            out[end + 1] = UInt8(ascii: "\n")
            return end + 2
        }
    }

    /// A one-line value. A CR or LF inside it would end the line early and let the rest
    /// be read as another reply, so both become spaces.
    private mutating func writeLine(prefix: StaticString, _ text: String) {
        writeStaticString(prefix)
        if text.utf8.contains(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) {
            writeBytes(text.utf8.map { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") ? UInt8(ascii: " ") : $0 })
        } else {
            writeString(text)
        }
        writeStaticString("\r\n")
    }
}
