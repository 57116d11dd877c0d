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
            writeLine(prefix: "+", text)
        case .error(let text):
            writeLine(prefix: "-", text)
        case .integer(let number):
            writeLine(prefix: ":", String(number))
        case .bulkString(let bytes):
            writeBulk(prefix: "$", bytes)
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
                writeBulk(prefix: "$", Bytes(text.utf8))
            }
        case .verbatim(let text):
            if version == .resp3 {
                writeBulk(prefix: "=", Bytes(("txt:" + text).utf8))
            } else {
                writeBulk(prefix: "$", Bytes(text.utf8))
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

    private mutating func writeBulk(prefix: StaticString, _ bytes: Bytes) {
        writeLine(prefix: prefix, String(bytes.count))
        writeBytes(bytes)
        writeStaticString("\r\n")
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
