import KVProtocol
import KVTLS
import KVTestSupport
import KVTransport
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import XCTest

/// A listener of the kvservice protocol on 127.0.0.1 behind some TLS, answering what the
/// tests send: a request with `ok`, a ping or a view question with the initial view.
struct TestListener {
    let listener: FrameListener
    let address: String
    /// Every record the listener's TLS layer logged.
    let log: LogRecorder

    /// The records that say a handshake was refused.
    var refusals: [LogRecorder.Record] { log.all.filter { $0.message.contains("TLS handshake refused") } }
}

/// Security that is not KVTLS's: NIOSSL's handlers over material nobody checked, to play a
/// peer that `TLSLayer` would not let itself be (one with an expired certificate).
struct UncheckedTLS: ConnectionSecurity {
    let context: NIOSSLContext

    /// A listener presenting `leaf`, asking clients for a certificate signed by `ca`.
    static func server(_ leaf: TestCertificates.Leaf, trusting ca: String) throws -> UncheckedTLS {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(leaf.certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: leaf.privateKey, format: .pem)))
        configuration.trustRoots = .file(ca)
        configuration.certificateVerification = .noHostnameVerification
        return UncheckedTLS(context: try NIOSSLContext(configuration: configuration))
    }

    /// A client presenting `leaf`, checking the listener's certificate against `ca`.
    static func client(_ leaf: TestCertificates.Leaf, trusting ca: String) throws -> UncheckedTLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(leaf.certificate).map { .certificate($0) }
        // Not `.file`: NIOSSL takes a `.key` file for DER.
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: leaf.privateKey, format: .pem))
        configuration.trustRoots = .file(ca)
        return UncheckedTLS(context: try NIOSSLContext(configuration: configuration))
    }

    func secureAccepted(_ channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
    }

    func secureConnecting(_ channel: any Channel, to peer: PeerAddress) throws {
        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
    }
}

extension XCTestCase {
    /// A `TLSLayer` logging into `log` (a fresh recorder by default).
    func layer(
        certificate: String?, privateKey: String?, ca: String, role: TLSRole = .member,
        policy: ClientCertificatePolicy = .required, handshakeTimeout: TimeAmount = TLSLayer.defaultHandshakeTimeout,
        log: LogRecorder = LogRecorder()
    ) throws -> TLSLayer {
        try TLSLayer(
            files: TLSFiles(certificate: certificate, privateKey: privateKey, ca: ca), role: role,
            clientPolicy: policy, handshakeTimeout: handshakeTimeout, logger: log.logger(label: "tls"))
    }

    func layer(
        _ leaf: TestCertificates.Leaf, ca: String, role: TLSRole = .member, policy: ClientCertificatePolicy = .required,
        log: LogRecorder = LogRecorder()
    ) throws -> TLSLayer {
        try layer(
            certificate: leaf.certificate, privateKey: leaf.privateKey, ca: ca, role: role, policy: policy, log: log)
    }

    /// Starts a listener behind `tls` on a free port; closed when the test ends. `log` is
    /// the recorder `tls` logs into, when it is a `TLSLayer` made with one.
    func startListener(
        _ tls: (any ConnectionSecurity)?, log: LogRecorder = LogRecorder(),
        maxConnections: Int = FrameListener.defaultMaxConnections
    ) async throws -> TestListener {
        let listener = try await FrameListener.start(
            source: .bind(PeerAddress(host: "127.0.0.1", port: 0)), group: Shared.group,
            logger: log.logger(label: "listener"), maxConnections: maxConnections, tls: tls
        ) { frame, responder in
            switch frame.message {
            case .request: responder.respond(.reply(ClientReply(status: .ok, value: Array("answer".utf8))))
            case .getView, .ping: responder.respond(.viewReply(.initial))
            default: responder.respond(.error(code: .unexpectedMessage, message: "not in this test"))
            }
        }
        addTeardownBlock { await listener.closeAll() }
        guard let port = listener.localAddress?.port else { throw TestSetupError("the listener has no address") }
        return TestListener(listener: listener, address: "127.0.0.1:\(port)", log: log)
    }

    /// Opens a connection (TLS handshake, then hello); closed when the test ends.
    func connect(_ address: String, tls: (any ConnectionSecurity)?) async throws -> KVConnection {
        let connection = try await KVConnection.connect(
            to: address, group: Shared.group, timeout: .seconds(5), tls: tls
        ).get()
        addTeardownBlock { connection.close() }
        return connection
    }

    /// What opening a connection failed with; fails the test when it opened.
    func connectionError(
        _ address: String, tls: (any ConnectionSecurity)?, file: StaticString = #filePath, line: UInt = #line
    ) async -> (any Error)? {
        do {
            let connection = try await connect(address, tls: tls)
            // Behind TLS 1.3 a client finishes its handshake before the listener checks
            // the client's certificate: the refusal can come only with the first reply.
            _ = try await connection.request(request, timeout: .seconds(5)).get()
            XCTFail("a connection opened and answered a request", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// A request the test listener answers `ok`.
    var request: Message {
        .request(ClientRequest(op: .get, clientID: 1, seq: 1, key: Array("k".utf8)))
    }

    /// Sends the request and checks the answer.
    func checkRequest(_ connection: KVConnection, file: StaticString = #filePath, line: UInt = #line) async throws {
        let reply = try await connection.request(request, timeout: .seconds(5)).get()
        guard case .reply(let answer) = reply, answer.status == .ok, answer.value == Array("answer".utf8) else {
            return XCTFail("unexpected reply \(reply)", file: file, line: line)
        }
    }

    /// The common name of the certificate the listener presented to `connection`.
    func peerCommonName(_ connection: KVConnection) async throws -> String? {
        let channel = connection.channel
        let certificate = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
        }.get()
        guard let description = certificate?.description,
            let range = description.firstRange(of: "common_name=")
        else { return nil }
        return String(description[range.upperBound...].prefix { $0 != ";" && $0 != ">" })
    }

    /// Waits until the listener logged a refused handshake, and returns the records.
    @discardableResult
    func waitForRefusal(_ listener: TestListener, file: StaticString = #filePath, line: UInt = #line) async throws
        -> [LogRecorder.Record]
    {
        try await waitUntil(
            "the listener logs \"TLS handshake refused\"", timeout: 10,
            detail: { "\(listener.log.all.map(\.message))" }, file: file, line: line
        ) { !listener.refusals.isEmpty }
        return listener.refusals
    }
}

extension XCTestCase {
    /// A TCP connection to `address` that sends nothing (inactive once the other side
    /// closes it). Closed when the test ends.
    func idleConnection(to address: String) async throws -> any Channel {
        guard let peer = PeerAddress(address) else { throw TestSetupError("bad address \(address)") }
        let channel = try await ClientBootstrap(group: Shared.group).connect(host: peer.host, port: peer.port).get()
        addTeardownBlock { try? await channel.close() }
        return channel
    }
}
