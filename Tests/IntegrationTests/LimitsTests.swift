import Foundation
import KVClient
import KVProtocol
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Pushing a daemon past its limits: each push gets a clear error (or is slowed down),
/// and the daemon keeps serving everyone else afterwards.
final class LimitsTests: XCTestCase {
    func testConnectionsBeyondTheLimitAreToldOverloadedAndClosed() async throws {
        let cluster = try await makeCluster()
        // Through a proxy, which opens one connection to the server for each made to it and
        // shows what the server sends back.
        let server = try await cluster.addServer(viaProxy: true, maxConnections: 4)
        try await cluster.waitForView(primary: server, backup: nil)
        let proxy = try await cluster.proxy(server)
        let text = await cluster.address(server)
        let address = try XCTUnwrap(PeerAddress(text))

        var held: [RawSocket] = []
        for _ in 0..<4 {
            let socket = try await RawSocket.connect(to: address)
            try await socket.send(Wire.hello)
            held.append(socket)
        }
        try await waitUntil("the first 4 connections are answered") {
            held.allSatisfy { socket in
                guard case .helloAck? = (try? socket.frames())?.first?.message else { return false }
                return true
            }
        }
        let extra = try await RawSocket.connect(to: address)
        try? await extra.send(Wire.hello)
        try await extra.waitForClose("the fifth connection is closed")
        XCTAssertEqual(
            try extra.frames().map(\.message), [.error(code: .overloaded, message: "too many connections")])

        // A client arriving now is refused too, and retries; once a connection closes it
        // gets in and is served.
        let client = await cluster.makeClient()
        let answeredBefore = proxy.bytesForwarded(.toConnector)
        let put = Task { try await client.put("after-the-limit", "served", within: 20) }
        // Nothing but a refusal can come back while the 4 connections are held.
        try await waitUntil("the client is refused") { proxy.bytesForwarded(.toConnector) > answeredBefore }
        held.removeFirst().close()
        try await put.value
        try await check(client, "after-the-limit", "served")
        for socket in held { socket.close() }
    }

    func testAClientThatDoesNotReadIsSlowedDownNotBufferedFor() async throws {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: s2)
        let client = await cluster.makeClient()
        // Large requests asking for large replies: 2,000 of them would be 120 MiB in and
        // 2 GiB out if the server read them all and queued the answers.
        let key = String(repeating: "k", count: 60 * 1024)
        try await client.put(key, String(repeating: "v", count: 1024 * 1024), within: 20)

        let text = await cluster.address(s1)
        let address = try XCTUnwrap(PeerAddress(text))
        let slow = try BlockingSocket(port: address.port)
        defer { slow.close() }
        try slow.sendAll(Wire.hello)
        let request = Wire.frame(
            .request(ClientRequest(op: .get, clientID: 77, seq: 1, key: Array(key.utf8), value: [])), requestID: 1)
        var sent = 0
        var stalledSince: Date?
        while sent < 2_000 {
            if slow.trySend(request) {
                if slow.pendingBytes == 0 { sent += 1 }
                stalledSince = nil
            } else {
                if stalledSince == nil { stalledSince = Date() }
                // The server stopped reading: what it has not read stays in the kernel.
                if Date().timeIntervalSince(stalledSince!) > 2 { break }
                try await pause(0.01)
            }
        }
        XCTAssertLessThan(sent, 2_000, "the server read every request of a client that reads no reply")

        // Meanwhile everyone else is served, and the server is fine once the slow client goes.
        let other = await cluster.makeClient()
        try await other.put("while-slow", "yes", within: 20)
        try await check(other, "while-slow", "yes")
        slow.close()
        try await other.put("after-slow", "yes", within: 20)
        try await check(other, "after-slow", "yes")
    }
}

/// A plain POSIX socket, so the test can see its send buffer fill (EAGAIN) when the
/// server stops reading. (A NIO channel would queue the bytes in memory instead.)
private final class BlockingSocket {
    private var fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw TestSetupError("connect: errno \(errno)") }
    }

    func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw TestSetupError("send: errno \(errno)") }
            offset += count
        }
    }

    /// The rest of a frame the kernel took only part of; sent before anything new.
    private(set) var pendingBytes = 0
    private var pending: [UInt8] = []

    /// Sends what the kernel takes now without blocking: first the rest of an earlier
    /// frame, else `bytes`. Returns whether anything was sent; `pendingBytes` is then 0
    /// once the frame went out whole.
    func trySend(_ bytes: [UInt8]) -> Bool {
        let next = pending.isEmpty ? bytes : pending
        let count = next.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if count <= 0 { return false }
        pending = Array(next[count...])
        pendingBytes = pending.count
        return true
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}
