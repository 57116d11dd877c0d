import KVResp
import KVTestSupport
import KVTransport
import NIOCore

/// A Redis-protocol client over a raw TCP connection: sends commands as RESP arrays (many
/// at once, to pipeline) and reads the replies back in order, waiting for them with a
/// bound.
final class RESPTestConnection: Sendable {
    let socket: RawSocket
    private let consumed = Locked(0)

    private init(socket: RawSocket) { self.socket = socket }

    static func connect(to address: PeerAddress) async throws -> RESPTestConnection {
        RESPTestConnection(socket: try await RawSocket.connect(to: address))
    }

    /// Sends every command in one write.
    func send(_ commands: [[String]]) async throws {
        var buffer = ByteBuffer()
        for command in commands { buffer.writeRESPValue(.array(command.map { .bulk($0) })) }
        try await socket.send(Array(buffer.readableBytesView))
    }

    /// The next `count` replies, once they have all arrived (at most `timeout` seconds).
    func replies(_ count: Int, timeout: Double = 15) async throws -> [RESPValue] {
        var parsed: [RESPValue] = []
        try await waitUntil("\(count) replies arrived", timeout: timeout, detail: { "\(parsed.count) parsed" }) {
            parsed = []
            var buffer = ByteBuffer(bytes: socket.bytes.dropFirst(consumed.get()))
            let parser = RESPValueParser()
            while parsed.count < count, let value = try parser.parse(&buffer) { parsed.append(value) }
            if parsed.count == count { consumed.update { $0 += buffer.readerIndex } }
            return parsed.count == count
        }
        return parsed
    }

    /// The next `count` replies as the bytes the server sent (to tell RESP2's `$-1` from
    /// RESP3's `_`, which parse alike).
    func rawReplies(_ count: Int, timeout: Double = 15) async throws -> String {
        let start = consumed.get()
        _ = try await replies(count, timeout: timeout)
        return String(decoding: socket.bytes[start..<consumed.get()], as: UTF8.self)
    }

    /// One command and its reply.
    func call(_ words: String...) async throws -> RESPValue {
        try await call(words)
    }

    func call(_ words: [String]) async throws -> RESPValue {
        try await send([words])
        return try await replies(1)[0]
    }

    func close() { socket.close() }
}
