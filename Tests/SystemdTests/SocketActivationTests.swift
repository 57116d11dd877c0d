import DaemonSupport
import Foundation
import KVProtocol
import KVTransport
import NIOCore
import NIOPosix
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
    private var group: MultiThreadedEventLoopGroup?

    override func tearDown() {
        try? group?.syncShutdownGracefully()
        group = nil
    }

    private var eventLoopGroup: MultiThreadedEventLoopGroup {
        if let group { return group }
        let made = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        group = made
        return made
    }

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
    ) throws -> Child {
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
        let bound = waitUntil(10) {
            sockets.allSatisfy { datagram ? Loopback.isBoundUDP(port: $0.port) : Loopback.isListening(port: $0.port) }
        }
        XCTAssertTrue(bound, "systemd-socket-activate did not bind \(sockets.map(\.port))\n\(child.outputSummary)")
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
    private func clientGet(port: Int, timeout: Int64) throws -> Message {
        let connection = try KVConnection.connect(
            to: "127.0.0.1:\(port)", group: eventLoopGroup, timeout: .seconds(timeout)
        ).wait()
        defer { connection.close() }
        let request = ClientRequest(op: .get, clientID: 42, seq: 1, key: Bytes(utf8: "k"))
        return try connection.request(.request(request), timeout: .seconds(timeout)).wait()
    }

    // MARK: - Activation on the first connection

    func testMonitorServesTheClientThatActivatedIt() throws {
        let scratch = makeScratch()
        let listener = try makeNotifyListener(scratch)
        let port = Loopback.freePort()
        let unused = Loopback.freePort()  // --listen, which a passed socket overrides
        let daemon = try activate(
            scratch, [(port, nil)], environment: ["NOTIFY_SOCKET": listener.path], Binaries.monitor,
            monitorArguments(listen: unused))
        XCTAssertEqual(listener.messages.count, 0, "the daemon ran before the first connection")

        // kvctl connects while only systemd-socket-activate exists; it is served once the
        // daemon has started on the passed socket.
        let view = try scratch.kvctl(["view", "--monitor", "127.0.0.1:\(port)", "--timeout", "5"])
        XCTAssertEqual(view.status, 0, "\(view.stderr)\n\(daemon.outputSummary)")
        XCTAssertEqual(view.stdout, "view 0: primary -, backup - (not yet acknowledged)\n")
        XCTAssertTrue(daemon.stderr.contains("Execing"), daemon.outputSummary)
        XCTAssertTrue(waitUntil(5) { daemon.stderr.contains("socket passed by systemd (fd 3") }, daemon.outputSummary)

        let ready = listener.first(within: 10) { $0.isReady }
        XCTAssertNotNil(ready, "no READY=1 through -E NOTIFY_SOCKET\n\(daemon.outputSummary)")
        XCTAssertEqual(ready?.pid, daemon.pid, "the daemon replaces systemd-socket-activate (same pid)")
        XCTAssertFalse(Loopback.accepts(port: unused), "--listen must not be bound when a socket is passed")

        daemon.signal(SIGTERM)
        XCTAssertTrue(daemon.waitForExit(within: 10), daemon.outputSummary)
        XCTAssertEqual(daemon.exitCode, 0, daemon.outputSummary)
    }

    func testServerServesTheClientThatActivatedIt() throws {
        let scratch = makeScratch()
        let monitorPort = Loopback.freePort()
        let monitor = try scratch.spawn("kv-monitor", Binaries.monitor, monitorArguments(listen: monitorPort))
        XCTAssertTrue(waitUntil(15) { Loopback.accepts(port: monitorPort) }, monitor.outputSummary)

        let listener = try makeNotifyListener(scratch)
        let port = Loopback.freePort()
        let daemon = try activate(
            scratch, [(port, nil)], environment: ["NOTIFY_SOCKET": listener.path], Binaries.server,
            serverArguments(listen: Loopback.freePort(), advertise: port, monitor: monitorPort))
        let before = try scratch.kvctl(["view", "--monitor", "127.0.0.1:\(monitorPort)", "--timeout", "5"])
        XCTAssertTrue(before.stdout.hasPrefix("view 0:"), "a server pinged before activation: \(before.stdout)")

        // The first client: the handshake and a request are answered by the daemon that
        // this very connection started.
        let reply = try clientGet(port: port, timeout: 10)
        guard case .reply = reply else { return XCTFail("expected a client reply, got \(reply)") }
        XCTAssertEqual(listener.first(within: 10) { $0.isReady }?.pid, daemon.pid, daemon.outputSummary)

        // And it joins the service: data goes through it.
        let put = try scratch.kvctl([
            "put", "fruit", "apple", "--monitor", "127.0.0.1:\(monitorPort)", "--timeout", "10",
        ])
        XCTAssertEqual(put.status, 0, "\(put.stderr)\n\(daemon.outputSummary)")
        let get = try scratch.kvctl(["get", "fruit", "--monitor", "127.0.0.1:\(monitorPort)", "--timeout", "10"])
        XCTAssertEqual(get.stdout, "apple\n", get.stderr)
        let view = try scratch.kvctl(["view", "--monitor", "127.0.0.1:\(monitorPort)", "--timeout", "5"])
        XCTAssertTrue(view.stdout.contains("primary 127.0.0.1:\(port)"), view.stdout)
    }

    // MARK: - Several sockets: FileDescriptorName=

    func testTheSocketNamedKvserviceIsTheProtocolSocket() throws {
        let scratch = makeScratch()
        let name = ListenSource.protocolSocketName
        // kv-monitor: the protocol socket is passed second.
        let metrics = Loopback.freePort()
        let service = Loopback.freePort()
        let monitor = try activate(
            scratch, [(metrics, "metrics"), (service, name)], Binaries.monitor,
            monitorArguments(listen: Loopback.freePort()))
        let view = try scratch.kvctl(["view", "--monitor", "127.0.0.1:\(service)", "--timeout", "5"])
        XCTAssertEqual(view.status, 0, "\(view.stderr)\n\(monitor.outputSummary)")
        XCTAssertTrue(
            waitUntil(5) { monitor.stderr.contains("socket passed by systemd (fd 4, \"kvservice\")") },
            monitor.outputSummary)
        let wrong = try scratch.kvctl(["view", "--monitor", "127.0.0.1:\(metrics)", "--timeout", "1"])
        XCTAssertNotEqual(wrong.status, 0, "the metrics socket must not serve the protocol: \(wrong.stdout)")

        // kv-server: the protocol socket is passed first this time.
        let serverService = Loopback.freePort()
        let serverMetrics = Loopback.freePort()
        let server = try activate(
            scratch, [(serverService, name), (serverMetrics, "metrics")], Binaries.server,
            serverArguments(listen: Loopback.freePort(), advertise: serverService, monitor: service))
        let reply = try clientGet(port: serverService, timeout: 10)
        guard case .reply = reply else { return XCTFail("expected a client reply, got \(reply)") }
        XCTAssertTrue(
            waitUntil(5) { server.stderr.contains("socket passed by systemd (fd 3, \"kvservice\")") },
            server.outputSummary)
        XCTAssertThrowsError(try clientGet(port: serverMetrics, timeout: 1), "the metrics socket must not serve")
    }

    func testSeveralSocketsWithoutTheProtocolNameAreRefused() throws {
        let scratch = makeScratch()
        for (program, arguments) in [
            (Binaries.monitor, monitorArguments(listen: Loopback.freePort())),
            (Binaries.server, serverArguments(listen: Loopback.freePort(), advertise: 1, monitor: Loopback.freePort())),
        ] {
            let first = Loopback.freePort()
            let daemon = try activate(
                scratch, [(first, "metrics"), (Loopback.freePort(), "admin")], program, arguments)
            let trigger = Loopback.connectTCP(port: first)
            defer { trigger.map { _ = close($0) } }
            XCTAssertTrue(daemon.waitForExit(within: 15), "\(program) kept running\n\(daemon.outputSummary)")
            XCTAssertNil(daemon.terminatingSignal, daemon.outputSummary)
            XCTAssertEqual(daemon.exitCode.map { $0 != 0 }, true, daemon.outputSummary)
            XCTAssertTrue(daemon.stderr.contains("none is named \"kvservice\""), daemon.outputSummary)
            XCTAssertTrue(daemon.stderr.contains("FileDescriptorName=kvservice"), daemon.outputSummary)
        }
    }

    // MARK: - A socket of the wrong kind

    func testADatagramSocketIsRefusedWithAClearError() throws {
        let scratch = makeScratch()
        for (program, arguments) in [
            (Binaries.monitor, monitorArguments(listen: Loopback.freePort())),
            (Binaries.server, serverArguments(listen: Loopback.freePort(), advertise: 1, monitor: Loopback.freePort())),
        ] {
            let port = Loopback.freePort(udp: true)
            let daemon = try activate(scratch, [(port, nil)], datagram: true, program, arguments)
            Loopback.sendUDP(port: port, "wake up")  // a datagram activates a --datagram socket
            XCTAssertTrue(daemon.waitForExit(within: 15), "\(program) kept running\n\(daemon.outputSummary)")
            XCTAssertNil(daemon.terminatingSignal, daemon.outputSummary)
            XCTAssertEqual(daemon.exitCode.map { $0 != 0 }, true, daemon.outputSummary)
            XCTAssertTrue(
                daemon.stderr.contains("passed socket 3 (\"unknown\") is not a listening TCP socket"),
                daemon.outputSummary)
            XCTAssertTrue(daemon.stderr.contains("ListenStream="), daemon.outputSummary)
        }
    }
}
