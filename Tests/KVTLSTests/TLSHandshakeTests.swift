import KVProtocol
import KVTLS
import KVTestSupport
import KVTransport
import NIOCore
import XCTest

/// A `FrameListener` and `KVConnection`s behind TLS over loopback TCP: who gets through,
/// who is refused, what each side is told, and that the listener logs the refusals.
final class TLSHandshakeTests: XCTestCase {
    private var certificates: TestCertificates!
    private var ca: String { certificates.ca.certificate }

    override func setUp() async throws {
        certificates = try await TestCertificates.make(in: try makeScratch())
    }

    /// A listener presenting a good certificate of the cluster's CA.
    private func goodListener(policy: ClientCertificatePolicy = .required) async throws -> TestListener {
        let log = LogRecorder()
        let server = try await certificates.leaf("server")
        return try await startListener(try layer(server, ca: ca, policy: policy, log: log), log: log)
    }

    private func goodClient() async throws -> TLSLayer {
        try layer(try await certificates.leaf("client"), ca: ca)
    }

    /// The reason of the `certificateRefused` opening a connection failed with.
    private func refusalReason(
        _ address: String, tls: any ConnectionSecurity, file: StaticString = #filePath, line: UInt = #line
    ) async throws -> String {
        let error = await connectionError(address, tls: tls, file: file, line: line)
        guard case .certificateRefused(let peer, let reason)? = error as? TransportError else {
            XCTFail("not a certificateRefused: \(String(describing: error))", file: file, line: line)
            return ""
        }
        XCTAssertEqual(peer, address, file: file, line: line)
        XCTAssertTrue((error as? TransportError)?.isAuthenticationFailure ?? false, file: file, line: line)
        return reason
    }

    private func assertCertificateRefused(
        _ error: (any Error)?, saying expected: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        if case .certificateRefused(_, let reason)? = error as? TransportError {
            XCTAssertTrue(reason.contains(expected), reason, file: file, line: line)
        } else {
            XCTFail("not a certificateRefused: \(String(describing: error))", file: file, line: line)
        }
    }

    /// A peer that connects and never begins its handshake is closed after the listener's
    /// handshake timeout, and logged; so is one beyond the connection limit, at once
    /// (behind TLS the `overloaded` frame would itself wait for a handshake).
    func testAnIdlePeerIsClosedAfterTheHandshakeTimeoutAndOneOverTheLimitAtOnce() async throws {
        let log = LogRecorder()
        let server = try await certificates.leaf("server")
        let tls = try layer(
            certificate: server.certificate, privateKey: server.privateKey, ca: ca,
            handshakeTimeout: .milliseconds(300),
            log: log)
        let listener = try await startListener(tls, log: log)
        let idle = try await idleConnection(to: listener.address)
        try await waitUntil("the idle peer is closed") { !idle.isActive }
        XCTAssertTrue(
            log.events("tls-refused").contains { $0.message.contains("no TLS handshake within 300 ms") },
            "\(log.all.map(\.message))")

        let full = try await startListener(try layer(server, ca: ca), log: LogRecorder(), maxConnections: 0)
        let refused = try await idleConnection(to: full.address)
        try await waitUntil("the peer over the limit is closed", timeout: 5) { !refused.isActive }
    }

    func testAClientOnlyCertificateIsAcceptedByAListener() async throws {
        let listener = try await goodListener()
        let operatorLeaf = try await certificates.leaf("operator", extendedKeyUsage: "clientAuth")
        let connection = try await connect(listener.address, tls: try layer(operatorLeaf, ca: ca, role: .client))
        try await checkRequest(connection)
    }

    func testAClientWithACertificateOfTheCAOpensAConnectionAndIsAnswered() async throws {
        let listener = try await goodListener()
        let connection = try await connect(listener.address, tls: try await goodClient())
        try await checkRequest(connection)
        // A cluster member's message too: the client proved a certificate.
        let reply = try await connection.request(.ping(address: "127.0.0.1:1", viewnum: 0), timeout: .seconds(5)).get()
        guard case .viewReply = reply else { return XCTFail("\(reply)") }
        let connectionName = try await peerCommonName(connection)
        XCTAssertEqual(connectionName, "server")
        XCTAssertTrue(listener.refusals.isEmpty, "\(listener.refusals.map(\.message))")
    }

    func testAClientDiallingTheNameLocalhostChecksTheCertificatesDNSName() async throws {
        let listener = try await goodListener()
        let port = try XCTUnwrap(listener.listener.localAddress?.port)
        let connection = try await connect("localhost:\(port)", tls: try await goodClient())
        try await checkRequest(connection)
    }

    func testAClientTrustingAnotherCARefusesTheListener() async throws {
        let listener = try await goodListener()
        let other = try await certificates.authority("other-ca")
        let stranger = try layer(certificate: nil, privateKey: nil, ca: other.certificate)
        let reason = try await refusalReason(listener.address, tls: stranger)
        XCTAssertTrue(reason.contains("CERTIFICATE_VERIFY_FAILED"), reason)
        XCTAssertTrue(reason.contains("not signed by a CA this process trusts"), reason)
        XCTAssertTrue(reason.contains("CN=server"), reason)
        // The client's alert reaches the listener, which logs it.
        let refusals = try await waitForRefusal(listener)
        XCTAssertTrue(refusals[0].message.contains("UNKNOWN_CA"), refusals[0].message)
    }

    func testAListenerWithAnExpiredOrNotYetValidCertificateIsRefusedByTheClient() async throws {
        let client = try await goodClient()
        let cases = [
            (try await certificates.expiredLeaf(), "expired on 2020-02-01 00:00:00 UTC"),
            (try await certificates.notYetValidLeaf(), "not valid before 2090-01-01 00:00:00 UTC"),
        ]
        for (leaf, expected) in cases {
            // `TLSLayer` would not load it: a listener of NIOSSL's own.
            let listener = try await startListener(try UncheckedTLS.server(leaf, trusting: ca))
            let reason = try await refusalReason(listener.address, tls: client)
            XCTAssertTrue(reason.contains("CN=\(leaf.commonName)"), reason)
            XCTAssertTrue(reason.contains(expected), reason)
            XCTAssertTrue(reason.contains("CERTIFICATE_VERIFY_FAILED"), reason)
        }
    }

    func testAListenerWithACertificateForAnotherNameIsRefusedByTheClient() async throws {
        let log = LogRecorder()
        let wrongName = try await certificates.wrongNameLeaf()
        // The layer loads it: its own names are not something a process can check.
        let listener = try await startListener(try layer(wrongName, ca: ca, log: log), log: log)
        let client = try await goodClient()
        let reason = try await refusalReason(listener.address, tls: client)
        XCTAssertTrue(reason.contains("(CN=wrong-name) does not name 127.0.0.1"), reason)
        let port = try XCTUnwrap(listener.listener.localAddress?.port)
        let byName = try await refusalReason("localhost:\(port)", tls: client)
        XCTAssertTrue(byName.contains("(CN=wrong-name) does not name localhost"), byName)
    }

    func testAClientWithAnExpiredCertificateIsRefusedByTheListener() async throws {
        let listener = try await goodListener()
        let expired = try await certificates.expiredLeaf()
        let error = await connectionError(listener.address, tls: try UncheckedTLS.client(expired, trusting: ca))
        // NIOSSL's own error (this client is not a `TLSLayer`): the listener's alert.
        XCTAssertTrue("\(String(describing: error))".contains("CERTIFICATE_EXPIRED"), "\(String(describing: error))")
        let refusals = try await waitForRefusal(listener)
        XCTAssertTrue(refusals[0].message.contains("CERTIFICATE_VERIFY_FAILED"), refusals[0].message)
        XCTAssertTrue(refusals[0].message.contains("CN=expired"), refusals[0].message)
        XCTAssertTrue(refusals[0].message.contains("expired on 2020-02-01"), refusals[0].message)
        XCTAssertEqual(refusals[0].event, "tls-refused")
        XCTAssertNotNil(refusals[0].metadata["kv_peer"])
    }

    func testAClientWithACertificateOfAnotherCAIsRefusedByTheListener() async throws {
        let listener = try await goodListener()
        let (untrusted, other) = try await certificates.untrustedLeaf()
        // The client trusts both CAs, so it accepts the listener and shows its own.
        let client = try layer(untrusted, ca: try certificates.bundle("both-cas", of: [certificates.ca, other]))
        let error = await connectionError(listener.address, tls: client)
        // Under TLS 1.3 the refusal comes after the client's side of the handshake, as the
        // first read's error, and is still told as a refused certificate.
        assertCertificateRefused(error, saying: "UNKNOWN_CA")
        let refusals = try await waitForRefusal(listener)
        XCTAssertTrue(refusals[0].message.contains("CERTIFICATE_VERIFY_FAILED"), refusals[0].message)
        XCTAssertTrue(refusals[0].message.contains("CN=untrusted"), refusals[0].message)
        XCTAssertTrue(refusals[0].message.contains("not signed by a CA this process trusts"), refusals[0].message)
    }

    func testAClientWithoutACertificateIsRefusedWhenOneIsRequired() async throws {
        let listener = try await goodListener(policy: .required)
        let anonymous = try layer(certificate: nil, privateKey: nil, ca: ca)
        let error = await connectionError(listener.address, tls: anonymous)
        assertCertificateRefused(error, saying: "CERTIFICATE_REQUIRED")
        let refusals = try await waitForRefusal(listener)
        XCTAssertTrue(refusals[0].message.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE"), refusals[0].message)
    }

    func testAClientWithoutACertificateMayReadAndWriteButNotPingWhenOneIsOptional() async throws {
        let listener = try await goodListener(policy: .optional)
        let anonymous = try layer(certificate: nil, privateKey: nil, ca: ca)
        let connection = try await connect(listener.address, tls: anonymous)
        try await checkRequest(connection)
        let view = try await connection.request(.getView, timeout: .seconds(5)).get()
        guard case .viewReply = view else { return XCTFail("\(view)") }
        do {
            let reply = try await connection.request(.ping(address: "127.0.0.1:1", viewnum: 0), timeout: .seconds(5))
                .get()
            XCTFail("a ping without a certificate was answered: \(reply)")
        } catch TransportError.peerError(let code, let message) {
            XCTAssertEqual(code, .authenticationFailed)
            XCTAssertTrue(message.contains("certificate"), message)
        }
        // The error ends the connection; another anonymous one still reads.
        try await checkRequest(try await connect(listener.address, tls: anonymous))
        // A client that proves a certificate may ping on the same listener.
        let member = try await connect(listener.address, tls: try await goodClient())
        let ping = try await member.request(.ping(address: "127.0.0.1:1", viewnum: 0), timeout: .seconds(5)).get()
        guard case .viewReply = ping else { return XCTFail("\(ping)") }
        XCTAssertTrue(listener.refusals.isEmpty, "\(listener.refusals.map(\.message))")
    }

    func testAClientWithAnExpiredCertificateIsRefusedEvenWhenOneIsOptional() async throws {
        let listener = try await goodListener(policy: .optional)
        let expired = try await certificates.expiredLeaf()
        _ = await connectionError(listener.address, tls: try UncheckedTLS.client(expired, trusting: ca))
        let refusals = try await waitForRefusal(listener)
        XCTAssertTrue(refusals[0].message.contains("CERTIFICATE_VERIFY_FAILED"), refusals[0].message)
    }

    func testAPlainTCPClientIsRefusedAndTheListenerGoesOn() async throws {
        let listener = try await goodListener()
        let error = await connectionError(listener.address, tls: nil)
        // The listener's alert, seen where a frame was expected.
        XCTAssertEqual(error as? TransportError, .peerSpeaksTLS)
        let refusals = try await waitForRefusal(listener)
        XCTAssertTrue(refusals[0].message.contains("does not speak TLS"), refusals[0].message)
        try await checkRequest(try await connect(listener.address, tls: try await goodClient()))
    }

    func testATLSClientOfAPlainListenerFailsAndTheListenerGoesOn() async throws {
        let listener = try await startListener(nil)
        let error = await connectionError(listener.address, tls: try await goodClient())
        // The listener closes on the first TLS record: not a refused certificate.
        guard case .handshakeFailed? = error as? TransportError else {
            return XCTFail("not a handshakeFailed: \(String(describing: error))")
        }
        try await checkRequest(try await connect(listener.address, tls: nil))
    }
}
