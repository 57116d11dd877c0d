/// A "host:port" address as used on the command line and in views. IPv6 hosts are
/// written in brackets: "[::1]:7100".
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil
        }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension PeerAddress {
    /// A comma-separated list of addresses, as `--monitor A,B,C` and `KV_MONITOR` take
    /// it (spaces around an item are ignored). Each item must be HOST:PORT, none empty,
    /// none twice.
    public static func list(_ text: String) throws(AddressListError) -> [PeerAddress] {
        var addresses: [PeerAddress] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            var trimmed = item
            while trimmed.first == " " { trimmed.removeFirst() }
            while trimmed.last == " " { trimmed.removeLast() }
            let word = String(trimmed)
            guard !word.isEmpty else {
                throw AddressListError("\"\(text)\" has an empty address (expected HOST:PORT,...)")
            }
            guard let address = PeerAddress(word) else { throw AddressListError("\"\(word)\" is not HOST:PORT") }
            guard !addresses.contains(address) else { throw AddressListError("\"\(word)\" is given twice") }
            addresses.append(address)
        }
        return addresses
    }
}

/// Why a list of addresses was refused (`PeerAddress.list`).
public struct AddressListError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
