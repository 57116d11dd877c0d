import KVProtocol

/// Short, unambiguous renderings of keys and values for people reading an explanation.
enum ValueText {
    /// Longest value shown in full; longer ones are cut, with their length.
    static let maxShown = 32

    /// Printable ASCII in quotes (`"abc"`), anything else as hex (`0x00ff`).
    static func show(_ bytes: Bytes) -> String {
        let shown = bytes.prefix(maxShown)
        let cut = bytes.count > maxShown ? "…(\(bytes.count) bytes)" : ""
        if shown.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            return "\"" + String(decoding: shown, as: UTF8.self) + "\"" + cut
        }
        return "0x" + Hex.encode(Bytes(shown)) + cut
    }

    static func show(_ response: Response) -> String {
        switch response {
        case .value(let value?): show(value)
        case .value(nil): "absent"
        case .stored: "ok"
        case .previous(let previous): "previous \(show(previous))"
        case .existed(let existed): existed ? "existed" : "missing"
        }
    }
}
