import Foundation
import KVTestSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A TCP listener that accepts connections and reads from them but never answers: a
/// monitor that is "running" but silent, to observe a server's first ping attempt.
final class SilentListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var _accepted = 0
    private var _bytes = 0
    private var connections: [Int32] = []
    private var stopped = false

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = Loopback.address(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in loop() }
        thread.start()
    }

    var accepted: Int { lock.withLock { _accepted } }
    var bytesReceived: Int { lock.withLock { _bytes } }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !lock.withLock({ stopped }) {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            fds += lock.withLock { connections }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 50) > 0 else { continue }
            if fds[0].revents != 0 {
                let connection = accept(fd, nil, nil)
                if connection >= 0 {
                    lock.withLock {
                        _accepted += 1
                        connections.append(connection)
                    }
                }
            }
            for entry in fds.dropFirst() where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                lock.withLock {
                    if count > 0 {
                        _bytes += count
                    } else {
                        connections.removeAll { $0 == entry.fd }
                        close(entry.fd)
                    }
                }
            }
        }
        lock.withLock {
            for connection in connections { close(connection) }
            connections = []
        }
        close(fd)
    }

    func stop() { lock.withLock { stopped = true } }
}
