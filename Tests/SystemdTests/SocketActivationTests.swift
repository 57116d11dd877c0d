import DaemonSupport
import Foundation
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

/// Socket activation through systemd-socket-activate, which listens itself and execs the
/// daemon (same pid) on the first connection, passing LISTEN_FDS/LISTEN_FDNAMES and
/// only the variables given with -E.
final class SocketActivationTests: XCTestCase {
    private func activator() throws -> String {
        guard let path = Binaries.tool("systemd-socket-activate") else {
            throw XCTSkip("systemd-socket-activate is not installed (Debian package systemd)")
        }
        return path
    }

    /// Starts `systemd-socket-activate` listening on `sockets` (port, optional name) in
    /// front of `program`, and waits until every socket is bound (without connecting).
    private func activate(
        _ scratch: TestScratch, _ sockets: [(port: Int, name: String?)], datagram: Bool = false,
        environment: [String: String] = [:], _ program: String, _ arguments: [String]
    ) async throws -> Child {
        var command: [String] = datagram ? ["--datagram"] : []
        for socket in sockets {
            command += ["-l", "127.0.0.1:\(socket.port)"]
            if let name = socket.name { command.append("--fdname=\(name)") }
        }
        for (key, value) in environment.merging(["SWIFT_BACKTRACE": "enable=no"], uniquingKeysWith: { $1 }) {
            command += ["-E", "\(key)=\(value)"]
        }
        let child = try scratch.spawn(
            "activate-\(URL(fileURLWithPath: program).lastPathComponent)", try activator(),
            command + [program] + arguments)
        try await waitUntil(
            "systemd-socket-activate binds \(sockets.map(\.port))", timeout: 10, detail: { child.outputSummary }
        ) {
            sockets.allSatisfy { datagram ? Loopback.isBoundUDP(port: $0.port) : Loopback.isListening(port: $0.port) }
        }
        XCTAssertFalse(child.stderr.contains("Execing"), "the daemon started before any connection")
        return child
    }

    private func monitorArguments(listen: Int) -> [String] {
        ["--listen", "127.0.0.1:\(listen)", "--ping-interval", "50ms", "--log-target", "stderr"]
    }

    private func serverArguments(listen: Int, advertise: Int, monitor: Int) -> [String] {
        [
            "--listen", "127.0.0.1:\(listen)", "--advertise", "127.0.0.1:\(advertise)", "--monitor",
            "127.0.0.1:\(monitor)", "--ping-interval", "50ms", "--log-target", "stderr",
        ]
    }

    /// Connects with the kvservice handshake and sends a get; returns the reply.
    private func clientGet(port: Int, timeout: Int64) async throws -> Message {
        let connection = try await KVConnection.connect(
            to: "127.0.0.1:\(port)", group: Shared.group, timeout: .seconds(timeout)
        ).get()
        defer { connection.close() }
        let request = ClientRequest(op: .get, clientID: 42, seq: 1, key: Bytes(utf8: "k"))
        return try await connection.request(.request(request), timeout: .seconds(timeout)).get()
    }

    // MARK: - Activation on the first connection

    func testMonitorServesTheClientThatActivatedIt() async throws {
        let scratch = try makeScratch()
        let listener = try makeNotifyListener(scratch)
        let port = try Loopback.freePort()
        let unused = try Loopback.freePort()  // --listen, which a passed socket overrides
        let daemon = try await activate(
            scratch, [(port, nil)], environment: ["NOTIFY_SOCKET": listener.path], Binaries.monitor,
            monitorArguments(listen: unused))
        XCTAssertEqual(listener.messages.count, 0, "the daemon ran before the first connection")

        // kvctl connects while only systemd-socket-activate exists; it is served once the
        // daemon has started on the passed socket.
        let view = try await scratch.kvctl(["view", "--monitor", "127.0.0.1:\(port)", "--timeout", "5"])
        XCTAssertEqual(view.status, 0, "\(view.stderr)\n\(daemon.outputSummary)")
        XCTAssertEqual(view.stdout, "view 0: primary -, backup - (not yet acknowledged)\n")
        XCTAssertTrue(daemon.stderr.contains("Execing"), daemon.outputSummary)
        try await waitUntil("kv-monitor logs the passed socket", timeout: 5, detail: { daemon.outputSummary }) {
            daemon.stderr.contains("socket passed by systemd (fd 3")
        }

        let ready = try await listener.first(
            "READY=1 through -E NOTIFY_SOCKET", within: 10, detail: { daemon.outputSummary }
        ) { $0.isReady }
        XCTAssertEqual(ready.pid, daemon.pid, "the daemon replaces systemd-socket-activate (same pid)")
        XCTAssertFalse(Loopback.accepts(port: unused), "--listen must not be bound when a socket is passed")

        daemon.signal(SIGTERM)
        try await daemon.waitForExit(within: 10)
        XCTAssertEqual(daemon.exitCode, 0, daemon.outputSummary)
    }

    func testServerServesTheClientThatActivatedIt() async throws {
        let scratch = try makeScratch()
        let monitorPort = try Loopback.freePort()
        let monitor = try scratch.spawn("kv-monitor", Binaries.monitor, monitorArguments(listen: monitorPort))
        try await waitUntil("kv-monitor accepts", timeout: 15, detail: { monitor.outputSummary }) {
            Loopback.accepts(port: monitorPort)
        }

        let listener = try makeNotifyListener(scratch)
        let port = try Loopback.freePort()
        let daemon = try await activate(
            scratch, [(port, nil)], environment: ["NOTIFY_SOCKET": listener.path], Binaries.server,
            serverArguments(listen: try Loopback.freePort(), advertise: port, monitor: monitorPort))
        let before = try await scratch.kvctl(["view", "--monitor", "127.0.0.1:\(monitorPort)", "--timeout", "5"])
        XCTAssertTrue(before.stdout.hasPrefix("view 0:"), "a server pinged before activation: \(before.stdout)")

        // The first client: the handshake and a request are answered by the daemon that
        // this very connection started.
        let reply = try await clientGet(port: port, timeout: 10)
        guard case .reply = reply else { return XCTFail("expected a client reply, got \(reply)") }
        let ready = try await listener.first("READY=1", within: 10, detail: { daemon.outputSummary }) { $0.isReady }
        XCTAssertEqual(ready.pid, daemon.pid, daemon.outputSummary)

        // And it joins the service: data goes through it.
        let put = try await scratch.kvctl([
            "put", "fruit", "apple", "--monitor", "127.0.0.1:\(monitorPort)", "--timeout", "10",
        ])
        XCTAssertEqual(put.status, 0, "\(put.stderr)\n\(daemon.outputSummary)")
        let get = try await scratch.kvctl(["get", "fruit", "--monitor", "127.0.0.1:\(monitorPort)", "--timeout", "10"])
        XCTAssertEqual(get.stdout, "apple\n", get.stderr)
        let view = try await scratch.kvctl(["view", "--monitor", "127.0.0.1:\(monitorPort)", "--timeout", "5"])
        XCTAssertTrue(view.stdout.contains("primary 127.0.0.1:\(port)"), view.stdout)
    }

    // MARK: - Several sockets: FileDescriptorName=

    func testTheSocketNamedKvserviceIsTheProtocolSocket() async throws {
        let scratch = try makeScratch()
        let name = ListenSource.protocolSocketName
        // kv-monitor: the protocol socket is passed second.
        let metrics = try Loopback.freePort()
        let service = try Loopback.freePort()
        let monitor = try await activate(
            scratch, [(metrics, "metrics"), (service, name)], Binaries.monitor,
            monitorArguments(listen: try Loopback.freePort()))
        let view = try await scratch.kvctl(["view", "--monitor", "127.0.0.1:\(service)", "--timeout", "5"])
        XCTAssertEqual(view.status, 0, "\(view.stderr)\n\(monitor.outputSummary)")
        try await waitUntil("kv-monitor takes fd 4 as its socket", timeout: 5, detail: { monitor.outputSummary }) {
            monitor.stderr.contains("socket passed by systemd (fd 4, \"kvservice\")")
        }
        let wrong = try await scratch.kvctl(["view", "--monitor", "127.0.0.1:\(metrics)", "--timeout", "1"])
        XCTAssertNotEqual(wrong.status, 0, "the metrics socket must not serve the protocol: \(wrong.stdout)")

        // kv-server: the protocol socket is passed first this time.
        let serverService = try Loopback.freePort()
        let serverMetrics = try Loopback.freePort()
        let server = try await activate(
            scratch, [(serverService, name), (serverMetrics, "metrics")], Binaries.server,
            serverArguments(listen: try Loopback.freePort(), advertise: serverService, monitor: service))
        let reply = try await clientGet(port: serverService, timeout: 10)
        guard case .reply = reply else { return XCTFail("expected a client reply, got \(reply)") }
        try await waitUntil("kv-server takes fd 3 as its socket", timeout: 5, detail: { server.outputSummary }) {
            server.stderr.contains("socket passed by systemd (fd 3, \"kvservice\")")
        }
        if let served = try? await clientGet(port: serverMetrics, timeout: 1) {
            XCTFail("the metrics socket must not serve: it answered \(served)")
        }
    }

    func testSeveralSocketsWithoutTheProtocolNameAreRefused() async throws {
        let scratch = try makeScratch()
        for (program, arguments) in [
            (Binaries.monitor, monitorArguments(listen: try Loopback.freePort())),
            (
                Binaries.server,
                serverArguments(listen: try Loopback.freePort(), advertise: 1, monitor: try Loopback.freePort())
            ),
        ] {
            let first = try Loopback.freePort()
            let daemon = try await activate(
                scratch, [(first, "metrics"), (try Loopback.freePort(), "admin")], program, arguments)
            let trigger = Loopback.connectTCP(port: first)
            defer { trigger.map { _ = close($0) } }
            try await daemon.waitForExit(within: 15)
            XCTAssertNil(daemon.terminatingSignal, daemon.outputSummary)
            XCTAssertEqual(daemon.exitCode.map { $0 != 0 }, true, daemon.outputSummary)
            XCTAssertTrue(daemon.stderr.contains("none is named \"kvservice\""), daemon.outputSummary)
            XCTAssertTrue(daemon.stderr.contains("FileDescriptorName=kvservice"), daemon.outputSummary)
        }
    }

    // MARK: - A socket of the wrong kind

    func testADatagramSocketIsRefusedWithAClearError() async throws {
        let scratch = try makeScratch()
        for (program, arguments) in [
            (Binaries.monitor, monitorArguments(listen: try Loopback.freePort())),
            (
                Binaries.server,
                serverArguments(listen: try Loopback.freePort(), advertise: 1, monitor: try Loopback.freePort())
            ),
        ] {
            let port = try Loopback.freePort(udp: true)
            let daemon = try await activate(scratch, [(port, nil)], datagram: true, program, arguments)
            Loopback.sendUDP(port: port, "wake up")  // a datagram activates a --datagram socket
            try await daemon.waitForExit(within: 15)
            XCTAssertNil(daemon.terminatingSignal, daemon.outputSummary)
            XCTAssertEqual(daemon.exitCode.map { $0 != 0 }, true, daemon.outputSummary)
            XCTAssertTrue(
                daemon.stderr.contains("passed socket 3 (\"unknown\") is not a listening TCP socket"),
                daemon.outputSummary)
            XCTAssertTrue(daemon.stderr.contains("ListenStream="), daemon.outputSummary)
        }
    }
}
