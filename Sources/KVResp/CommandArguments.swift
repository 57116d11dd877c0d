import KVProtocol

/// A command's arguments after its name, read the way Redis reads them: numbers as its
/// `string2ll` and `string2ld` do, options without regard to case. A reader that finds a
/// bad argument throws the error Redis would answer.
struct CommandArguments {
    /// The command's name, upper-cased, for error texts that quote it (in lower case).
    let name: String
    /// Kept as a slice of the command line: GET and SET, most of the load, copy nothing.
    let values: ArraySlice<Bytes>

    init(name: String, _ values: ArraySlice<Bytes>) {
        self.name = name
        self.values = values
    }

    var count: Int { values.count }

    subscript(index: Int) -> Bytes { values[values.startIndex + index] }

    /// The argument as an upper-case word, to compare with an option's name.
    func word(_ index: Int) -> String { RESPCommand.uppercased(self[index]) }

    func integer(_ index: Int) throws(CommandError) -> Int64 {
        guard let number = Self.integer(self[index]) else { throw CommandError(RedisError.notInteger) }
        return number
    }

    func float(_ index: Int) throws(CommandError) -> Double {
        guard let number = Self.float(self[index]) else { throw CommandError(RedisError.notFloat) }
        return number
    }

    /// Redis's exact integer text: an optional '-', then digits without a leading zero
    /// (but "0"), within 64 bits; no '+', no spaces.
    static func integer(_ bytes: Bytes) -> Int64? {
        guard let first = bytes.first, first != UInt8(ascii: "+"), bytes.count <= 20 else { return nil }
        let digits = first == UInt8(ascii: "-") ? bytes.dropFirst() : bytes[...]
        if digits.first == UInt8(ascii: "0") && bytes != [UInt8(ascii: "0")] { return nil }
        return Int64(String(decoding: bytes, as: UTF8.self))
    }

    /// What C's strtold takes whole, as Redis's `string2ld`: decimal or hexadecimal, an
    /// exponent, "inf"; not NaN, not leading spaces, not a finite text too large to hold.
    static func float(_ bytes: Bytes) -> Double? {
        guard let first = bytes.first, first > UInt8(ascii: " "), bytes.count < 5120 else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let number = Double(text), !number.isNaN else { return nil }
        if number.isInfinite && !text.lowercased().contains("inf") { return nil }
        return number
    }
}
