import KVClient
import KVProtocol
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

/// Bad input against live daemons over raw TCP (docs/DESIGN.md §5): each gets an error frame
/// where one can be sent, and a closed connection; the daemon keeps serving; the store
/// does not change.
final class BadInputTests: XCTestCase {
    private struct Setup {
        var cluster: TestCluster
        var primary: Int
        var backup: Int
        var client: KVClient
    }

    private func setUpCluster() async throws -> Setup {
        let cluster = try await makeCluster()
        let s1 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: nil)
        let s2 = try await cluster.addServer()
        try await cluster.waitForView(primary: s1, backup: s2)
        let client = await cluster.makeClient()
        try await client.put("x", "1")
        try await client.put("y", "2")
        return Setup(cluster: cluster, primary: s1, backup: s2, client: client)
    }

    private func stores(_ setup: Setup) async -> [[Bytes: Bytes]?] {
        [
            await setup.cluster.snapshot(setup.primary)?.store.values,
            await setup.cluster.snapshot(setup.backup)?.store.values,
        ]
    }

    /// Sends `input` on a fresh connection to `address` and returns the connection once
    /// the peer has closed it (failing if it does not within 5 s).
    private func exchange(
        _ address: String, _ input: [[UInt8]], shutdownOutput: Bool = false, file: StaticString = #filePath,
        line: UInt = #line
    ) async throws -> RawSocket {
        let socket = try await RawSocket.connect(to: PeerAddress(address)!)
        // The daemon may close as soon as it has seen enough: later pieces may not go out.
        for piece in input { try? await socket.send(piece) }
        if shutdownOutput { await socket.shutdownOutput() }
        try await socket.waitForClose("the daemon closes the connection", file: file, line: line)
        return socket
    }

    /// After a truncated frame and end of stream, the daemon may still get an error frame
    /// out before it closes, or not (the peer has gone): either is fine, nothing else is.
    private func assertNothingOrErrorFrame(
        _ socket: RawSocket, _ code: ProtocolErrorCode, file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let frames = try? socket.frames(), frames.count > 1 else {
            guard let frames = try? socket.frames(), case .helloAck? = frames.first?.message else {
                return XCTFail("expected a helloAck only, got \(socket.bytes)", file: file, line: line)
            }
            return
        }
        assertErrorFrame(socket, code, afterHello: true, file: file, line: line)
    }

    /// Asserts that the peer sent exactly one frame, an error with `code` (any code if nil).
    private func assertErrorFrame(
        _ socket: RawSocket, _ code: ProtocolErrorCode?, afterHello: Bool, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        do {
            var frames = try socket.frames()
            if afterHello {
                guard case .helloAck? = frames.first?.message else {
                    return XCTFail("no helloAck first: \(frames)", file: file, line: line)
                }
                frames.removeFirst()
            }
            XCTAssertEqual(frames.count, 1, "expected one error frame, got \(frames)", file: file, line: line)
            guard case .error(let received, let message)? = frames.first?.message else {
                return XCTFail("expected an error frame, got \(frames)", file: file, line: line)
            }
            if let code { XCTAssertEqual(received, code, "error: \(message)", file: file, line: line) }
            XCTAssertFalse(message.isEmpty, "the error frame should say what was wrong", file: file, line: line)
        } catch {
            XCTFail("the daemon's answer is not well-formed frames: \(error)", file: file, line: line)
        }
    }

    func testBadInputToServer() async throws {
        let setup = try await setUpCluster()
        let before = await stores(setup)
        let primary = await setup.cluster.address(setup.primary)
        let backup = await setup.cluster.address(setup.backup)
        let put = Wire.frame(
            .request(ClientRequest(op: .put, clientID: 77, seq: 1, key: bytes("x"), value: bytes("EVIL"))))

        for target in [primary, backup] {
            // Truncated frame, then end of stream: a frame announcing 100 bytes carries 10.
            var socket = try await exchange(
                target, [Wire.hello, Wire.lengthPrefix(100) + Array(put.dropFirst(4).prefix(10))], shutdownOutput: true)
            assertNothingOrErrorFrame(socket, .malformedFrame)

            // Truncated frame, then the connection closed outright: nothing to answer to.
            let rude = try await RawSocket.connect(to: PeerAddress(target)!)
            try await rude.send(Wire.hello + Wire.lengthPrefix(100) + [0x20, 0, 0])
            rude.close()

            // Oversized length prefix: refused from the prefix alone.
            socket = try await exchange(target, [Wire.hello, Wire.lengthPrefix(UInt32.max), [1, 2, 3]])
            assertErrorFrame(socket, .frameTooLarge, afterHello: true)
            socket = try await exchange(target, [Wire.lengthPrefix(UInt32(Limits.maxFrameSize) + 1)])
            assertErrorFrame(socket, .frameTooLarge, afterHello: false)

            // Unknown message type.
            socket = try await exchange(target, [Wire.hello, Wire.framed([0x7E] + [UInt8](repeating: 0, count: 8))])
            assertErrorFrame(socket, .unknownMessageType, afterHello: true)

            // A known type a server does not take (a monitor's ping).
            socket = try await exchange(target, [Wire.hello, Wire.frame(.ping(address: "127.0.0.1:1", viewnum: 9))])
            assertErrorFrame(socket, .unexpectedMessage, afterHello: true)

            // Wrong protocol version in the hello.
            socket = try await exchange(
                target, [Wire.frame(.hello(version: ProtocolVersion.current + 1), requestID: 0)])
            assertErrorFrame(socket, .versionMismatch, afterHello: false)

            // A hello with the wrong magic (another protocol).
            socket = try await exchange(
                target, [Wire.framed([0x01] + [UInt8](repeating: 0, count: 8) + bytes("HTTP") + [0, 1])])
            assertErrorFrame(socket, .malformedFrame, afterHello: false)

            // Hello missing: a valid Put as the first frame must not be applied.
            socket = try await exchange(target, [put])
            assertErrorFrame(socket, .handshakeRequired, afterHello: false)

            // Garbage: an HTTP request (its first bytes read as a huge length), and
            // seeded random bytes inside a plausible frame.
            socket = try await exchange(target, [bytes("GET / HTTP/1.1\r\nHost: kv\r\n\r\n")])
            assertErrorFrame(socket, nil, afterHello: false)
            var rng = SplitMix64(seed: 0xBAD)
            for _ in 0..<8 {
                let body = (0..<40).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                socket = try await exchange(target, [Wire.hello, Wire.framed(body)])
                assertErrorFrame(socket, nil, afterHello: true)
            }
            // Random bytes from the very first byte, then end of stream (their first four
            // bytes may announce a frame under the limit, which the daemon then waits for).
            for _ in 0..<4 {
                let garbage = (0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                socket = try await exchange(target, [garbage], shutdownOutput: true)
                if socket.bytes.count > 0 { assertErrorFrame(socket, nil, afterHello: false) }
            }
        }

        // The daemons keep serving, and nothing reached the stores.
        try await check(setup.client, "x", "1")
        try await check(setup.client, "y", "2")
        let after = await stores(setup)
        XCTAssertEqual(after[0], before[0], "the primary's store changed")
        XCTAssertEqual(after[1], before[1], "the backup's store changed")
        XCTAssertEqual(after[0]?[bytes("x")], bytes("1"))
        let view = await setup.cluster.view()
        XCTAssertEqual(view.primary, primary)
        XCTAssertEqual(view.backup, backup)
        // A well-behaved client after all that: still served, and still replicated.
        try await setup.client.put("z", "3")
        try await waitUntil("the backup has the new key") {
            await setup.cluster.snapshot(setup.backup)?.store.value(bytes("z")) == bytes("3")
        }
    }

    func testBadInputToMonitor() async throws {
        let setup = try await setUpCluster()
        let monitor = setup.cluster.monitorAddress
        let viewBefore = await setup.cluster.view()

        var socket = try await exchange(monitor, [Wire.hello, Wire.lengthPrefix(UInt32.max)])
        assertErrorFrame(socket, .frameTooLarge, afterHello: true)
        socket = try await exchange(monitor, [Wire.hello, Wire.framed([0xEE] + [UInt8](repeating: 1, count: 8))])
        assertErrorFrame(socket, .unknownMessageType, afterHello: true)
        socket = try await exchange(monitor, [Wire.frame(.hello(version: 0), requestID: 0)])
        assertErrorFrame(socket, .versionMismatch, afterHello: false)
        // A ping without a hello must not register anyone.
        socket = try await exchange(monitor, [Wire.frame(.ping(address: "10.9.9.9:9", viewnum: 0))])
        assertErrorFrame(socket, .handshakeRequired, afterHello: false)
        // A data request is not for the monitor.
        socket = try await exchange(
            monitor, [Wire.hello, Wire.frame(.request(ClientRequest(op: .get, clientID: 1, seq: 1, key: bytes("x"))))])
        assertErrorFrame(socket, .unexpectedMessage, afterHello: true)
        socket = try await exchange(monitor, [Wire.hello, Wire.lengthPrefix(50) + [0x10, 0]], shutdownOutput: true)
        assertNothingOrErrorFrame(socket, .malformedFrame)
        // A TLS ClientHello at a plain listener: closed at once, no frame (the peer would
        // read it as TLS garbage); the listener logs what it was.
        socket = try await exchange(monitor, [bytes("\u{16}\u{03}\u{01} TLS hello, or so")])
        XCTAssertEqual(socket.bytes, [], "nothing answered to a TLS record")
        // A ping whose address is not HOST:PORT ("" means "no server" in a view) must
        // never register anyone, let alone name a primary.
        for address in ["", "no-port", "host:99999"] {
            socket = try await exchange(monitor, [Wire.hello, Wire.frame(.ping(address: address, viewnum: 0))])
            assertErrorFrame(socket, .malformedFrame, afterHello: true)
        }

        let servers = await setup.cluster.monitor?.servers() ?? []
        XCTAssertFalse(servers.contains { $0.address == "10.9.9.9:9" }, "a ping without hello registered a server")
        XCTAssertFalse(
            servers.contains { ["", "no-port", "host:99999"].contains($0.address) },
            "a ping with a bad address registered a server")
        let viewAfter = await setup.cluster.view()
        XCTAssertEqual(viewAfter, viewBefore)
        // Still answering.
        let view = try await setup.client.view(deadline: NIODeadline.now() + .seconds(5))
        XCTAssertEqual(view, viewBefore)
        try await check(setup.client, "x", "1")
    }
}
