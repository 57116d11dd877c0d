import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One plain HTTP/1.1 request to 127.0.0.1, on blocking sockets with a time limit: what
/// the tests need to ask a daemon something (etcd's /health, a compaction) without going
/// through the client under test.
package enum LoopbackHTTP {
    package struct Answer: Sendable {
        package var status: Int
        package var body: String
    }

    /// Sends the request and reads the answer until the server closes the connection
    /// (`Connection: close`). Nil if the connection is refused, or if the whole answer did
    /// not come within `timeout` seconds (a stopped process accepts in the kernel but never
    /// answers).
    package static func request(
        port: Int, method: String = "GET", path: String, body: String = "", timeout: Double = 1
    ) -> Answer? {
        guard let fd = Loopback.connectTCP(port: port) else { return nil }
        defer { close(fd) }
        let deadline = ContinuousClock.now + .seconds(timeout)
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if !body.isEmpty || method == "POST" {
            request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
        }
        request += "\r\n\(body)"
        let bytes = Array(request.utf8)
        guard setTimeout(fd, seconds: timeout), write(fd, bytes, bytes.count) == bytes.count else { return nil }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            guard ContinuousClock.now < deadline else { return nil }
            let count = read(fd, &chunk, chunk.count)
            if count == 0 { break }
            guard count > 0 else { return nil }
            received += chunk[..<count]
        }
        return parse(received)
    }

    private static func setTimeout(_ fd: Int32, seconds: Double) -> Bool {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        let size = socklen_t(MemoryLayout<timeval>.size)
        return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, size) == 0
            && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, size) == 0
    }

    /// The status and body of a whole answer (a chunked body is returned with its chunk
    /// framing: the tests only look for text in it).
    private static func parse(_ bytes: [UInt8]) -> Answer? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
        let statusLine = text[..<headEnd.lowerBound].split(separator: "\r\n").first ?? ""
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, let status = Int(fields[1]) else { return nil }
        return Answer(status: status, body: String(text[headEnd.upperBound...]))
    }
}
