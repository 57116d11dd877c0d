import KVProtocol
import NIOCore

/// Writes `RESPValue`s as RESP2 bytes, one outbound handler's job.
public struct RESPEncoder: MessageToByteEncoder {
    public typealias OutboundIn = RESPValue

    public init() {}

    public func encode(data: RESPValue, out: inout ByteBuffer) {
        out.writeRESPValue(data)
    }
}

extension ByteBuffer {
    /// Appends `value` in RESP2 encoding.
    @discardableResult
    public mutating func writeRESPValue(_ value: RESPValue) -> Int {
        let start = writerIndex
        switch value {
        case .simpleString(let text):
            writeLine(prefix: "+", text)
        case .error(let text):
            writeLine(prefix: "-", text)
        case .integer(let number):
            writeLine(prefix: ":", String(number))
        case .bulkString(let bytes):
            writeLine(prefix: "$", String(bytes.count))
            writeBytes(bytes)
            writeStaticString("\r\n")
        case .null:
            writeStaticString("$-1\r\n")
        case .array(let elements):
            writeLine(prefix: "*", String(elements.count))
            for element in elements { writeRESPValue(element) }
        }
        return writerIndex - start
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
