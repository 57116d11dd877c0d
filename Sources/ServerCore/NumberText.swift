import KVProtocol

/// Values read and written as numbers by INCR and INCRBYFLOAT, with Redis's rules: an
/// integer is the exact decimal text of a signed 64-bit number (no sign but '-', no
/// spaces, no leading zeros); a float is finite decimal text, and a result is written
/// without an exponent or trailing zeros.
enum NumberText {
    static func integer(_ bytes: Bytes) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var index = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        guard index < bytes.count else { return nil }
        // "0" alone; "-0" and "01" are not how Redis writes a number.
        if bytes[index] == UInt8(ascii: "0") && (bytes.count > index + 1 || negative) { return nil }
        var magnitude: UInt64 = 0
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times, overflowTimes) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = times.addingReportingOverflow(UInt64(digit))
            guard !overflowTimes, !overflowSum else { return nil }
            magnitude = sum
            index += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    static func float(_ bytes: Bytes) -> Double? {
        guard !bytes.isEmpty, bytes.count <= 256,
            bytes.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || "+-.eE".utf8.contains($0) }),
            let value = Double(String(decoding: bytes, as: UTF8.self)), value.isFinite
        else { return nil }
        return value
    }

    /// Redis's human form: "10.5", "3", "0.1", "100000000000000000000".
    static func text(_ value: Double) -> Bytes {
        if value == value.rounded(), abs(value) < 1e18 {
            return Bytes(utf8: String(Int64(value)))
        }
        let shortest = value.description
        guard let e = shortest.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return Bytes(utf8: shortest) }
        // Spell the exponent out as digits.
        let mantissa = String(shortest[..<e])
        guard let exponent = Int(shortest[shortest.index(after: e)...]) else { return Bytes(utf8: shortest) }
        let negative = mantissa.hasPrefix("-")
        let unsigned = negative ? String(mantissa.dropFirst()) : mantissa
        let parts = unsigned.split(separator: ".", omittingEmptySubsequences: false)
        var digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
        var point = parts[0].count + exponent
        if point <= 0 {
            digits = String(repeating: "0", count: 1 - point) + digits
            point = 1
        }
        if point >= digits.count { digits += String(repeating: "0", count: point - digits.count) }
        var text = String(digits.prefix(point))
        var fraction = String(digits.dropFirst(point))
        while fraction.hasSuffix("0") { fraction.removeLast() }
        if !fraction.isEmpty { text += "." + fraction }
        while text.hasPrefix("0") && text.count > 1 && !text.hasPrefix("0.") { text.removeFirst() }
        return Bytes(utf8: (negative ? "-" : "") + text)
    }
}
