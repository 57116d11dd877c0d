import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// 127.0.0.1, seen from the tests.
package enum Loopback {
    /// A port that was free a moment ago: a socket bound to port 0, its port read back,
    /// the socket closed. Nothing listened on it, so no TIME_WAIT is left behind. Someone
    /// else may take the port before the caller binds it: callers that bind it themselves
    /// retry with another when the bind fails.
    package static func freePort(udp: Bool = false) throws -> Int {
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = Self.address(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw TestSetupError("bind to port 0: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw TestSetupError("getsockname: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A port that was free a moment ago, below the kernel's ephemeral range (where
    /// `freePort` finds its ports): for a daemon that is killed and restarted on the same
    /// port, which an outgoing connection made while it is down could take as its source
    /// port if it were in the ephemeral range.
    package static func freePortBelowEphemeralRange(avoiding taken: Set<Int> = []) throws -> Int {
        var high = 32767
        if let range = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
            let low = range.split(whereSeparator: \.isWhitespace).first.flatMap({ Int($0) })
        {
            high = min(high, low - 1)
        }
        let low = 20000
        guard high > low else { return try freePort() }
        for _ in 0..<200 {
            let port = Int.random(in: low...high)
            if !taken.contains(port), canBind(port: port) { return port }
        }
        throw TestSetupError("no free port found in \(low)...\(high)")
    }

    /// Whether a TCP socket can be bound to 127.0.0.1:port right now.
    private static func canBind(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = Self.address(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    package static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    /// Opens a TCP connection to 127.0.0.1:port; returns the fd or nil if refused.
    package static func connectTCP(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = Self.address(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            close(fd)
            return nil
        }
        return fd
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port right now.
    package static func accepts(port: Int) -> Bool {
        guard let fd = connectTCP(port: port) else { return false }
        close(fd)
        return true
    }

    /// Whether 127.0.0.1:port is in LISTEN state, read from /proc/net/tcp without
    /// connecting (a connection would trigger socket activation).
    package static func isListening(port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return false }
        let wanted = String(format: "0100007F:%04X", port)
        return table.split(separator: "\n").contains { line in
            let columns = line.split(separator: " ")
            return columns.count > 3 && columns[1] == wanted && columns[3] == "0A"
        }
    }

    /// Whether a UDP socket is bound on 127.0.0.1:port (/proc/net/udp).
    package static func isBoundUDP(port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/udp", encoding: .utf8) else { return false }
        let wanted = String(format: "0100007F:%04X", port)
        return table.split(separator: "\n").contains { line in
            let columns = line.split(separator: " ")
            return columns.count > 1 && columns[1] == wanted
        }
    }

    package static func sendUDP(port: Int, _ text: String) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = Self.address(port: port)
        let bytes = Array(text.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
}
