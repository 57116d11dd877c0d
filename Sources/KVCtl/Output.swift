#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes to stdout and stderr without Foundation (and without C's shared `FILE`
/// buffers); values may be any bytes.
enum Output {
    static func out(_ bytes: [UInt8]) { writeAll(1, bytes) }

    static func line(_ text: String) { writeAll(1, Array((text + "\n").utf8)) }

    static func error(_ text: String) { writeAll(2, Array(("kvctl: " + text + "\n").utf8)) }

    /// Bytes as one line of text that cannot disturb a terminal or a line-based reader:
    /// UTF-8 text as it is, except a backslash (`\\`) and control characters (`\n`,
    /// `\t`, `\r`, `\xNN`); bytes that are not UTF-8 as `\xNN`.
    static func safe(_ bytes: [UInt8]) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return bytes.reduce(into: "") { result, byte in
                result += byte < 0x80 ? escaped(Unicode.Scalar(byte)) : hex(UInt32(byte))
            }
        }
        return text.unicodeScalars.reduce(into: "") { $0 += escaped($1) }
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\\": "\\\\"
        case "\n": "\\n"
        case "\t": "\\t"
        case "\r": "\\r"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F: hex(scalar.value)
        case _ where (0x80..<0xA0).contains(scalar.value): "\\u{" + String(scalar.value, radix: 16) + "}"
        default: String(scalar)
        }
    }

    private static func hex(_ byte: UInt32) -> String {
        "\\x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
    }

    /// Rows as columns, each as wide as its widest cell, two spaces apart.
    static func table(_ rows: [[String]]) {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        for row in rows {
            var text = zip(row, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(
                separator: "  ")
            while text.last == " " { text.removeLast() }
            line(text)
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            offset += count
        }
    }
}

/// Just enough JSON for kvctl's output: objects of strings, numbers and booleans.
enum JSON {
    static let null = "null"

    static func list(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }

    static func number<Number: BinaryInteger>(_ value: Number?) -> String { value.map { "\($0)" } ?? null }

    /// Bytes as the field `name`: their text when they are UTF-8, else null and the field
    /// `name_base64` with their base64 (RFC 4648), so any bytes come out whole.
    static func bytes(_ name: String, _ bytes: [UInt8]?) -> [(String, String)] {
        guard let bytes else { return [(name, null)] }
        if let text = String(validating: bytes, as: UTF8.self) { return [(name, string(text))] }
        return [(name, null), (name + "_base64", string(Base64.encode(bytes)))]
    }

    static func string(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }
}

/// RFC 4648 base64, with padding.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        for start in stride(from: 0, to: bytes.count, by: 3) {
            let chunk = bytes[start..<min(start + 3, bytes.count)]
            let word = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * $1.offset) }
            for index in 0..<4 {
                out.append(index <= chunk.count ? alphabet[Int(word >> (18 - 6 * index) & 0x3F)] : UInt8(ascii: "="))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
