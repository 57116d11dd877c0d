/// One etcd member's client URL, as the monitor's command line names it.
public struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// An https:// URL: the member is spoken to in TLS.
    public var secure: Bool

    public init(host: String, port: Int, secure: Bool = false) {
        self.host = host
        self.port = port
        self.secure = secure
    }

    public var description: String { "\(secure ? "https" : "http")://\(hostForURL):\(port)" }

    /// The host as it goes in a URL or a Host header: an IPv6 address in brackets.
    var hostForURL: String { host.contains(":") ? "[\(host)]" : host }

    /// Accepts "http://HOST:PORT", "https://HOST:PORT" (TLS) and "HOST:PORT" (plain; a
    /// trailing "/" is tolerated; HOST may be a bracketed IPv6 address).
    public static func parse(_ text: String) throws -> EtcdEndpoint {
        var rest = Substring(text)
        var secure = false
        if let schemeEnd = rest.firstRange(of: "://") {
            let scheme = rest[..<schemeEnd.lowerBound].lowercased()
            switch scheme {
            case "http":
                break
            case "https":
                secure = true
            default:
                throw EtcdEndpointError(text: text, reason: "unknown scheme \"\(scheme)\"; expected http://HOST:PORT")
            }
            rest = rest[schemeEnd.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("@"), !rest.contains("?") else {
            throw EtcdEndpointError(text: text, reason: "expected http://HOST:PORT with no path, user or query")
        }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            // [IPv6]:PORT
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else {
                throw EtcdEndpointError(text: text, reason: "expected [IPV6]:PORT")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[rest.index(close, offsetBy: 2)...]
        } else {
            guard let colon = rest.lastIndex(of: ":"), !rest[..<colon].contains(":") else {
                throw EtcdEndpointError(text: text, reason: "expected HOST:PORT (the port is required)")
            }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "\t" || $0 == "[" || $0 == "]" }) else {
            throw EtcdEndpointError(text: text, reason: "the host is empty or malformed")
        }
        guard portText.allSatisfy({ ("0"..."9").contains($0) }), let port = Int(portText), (1...65535).contains(port)
        else {
            throw EtcdEndpointError(text: text, reason: "the port must be a number from 1 to 65535")
        }
        return EtcdEndpoint(host: String(host), port: port, secure: secure)
    }
}

/// An etcd endpoint that `EtcdEndpoint.parse` could not read.
public struct EtcdEndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// What is wrong with it.
    public var reason: String

    public var description: String { "invalid etcd endpoint \"\(text)\": \(reason)" }
}
