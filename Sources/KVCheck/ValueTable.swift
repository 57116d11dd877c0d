import KVProtocol

/// Gives every distinct value of one key's history a small number, so the search's states
/// are integers that hash and compare in constant time whatever the values' sizes.
struct ValueTable {
    /// Number 0 is the empty value: what puthash sees as the previous value of an absent key.
    static let empty: Int32 = 0

    private var values: [Bytes] = [[]]
    private var numbers: [Bytes: Int32] = [[]: 0]

    mutating func number(of value: Bytes) -> Int32 {
        if let number = numbers[value] { return number }
        let number = Int32(values.count)
        values.append(value)
        numbers[value] = number
        return number
    }

    subscript(number: Int32) -> Bytes { values[Int(number)] }
}
