import Foundation
import KVTLS
import KVTestSupport
import XCTest

/// `TLSLayer` checks its files when it is made, and says what is wrong with them in words
/// that name the file and the fault, before any peer gets to refuse the process.
final class TLSMaterialTests: XCTestCase {
    private var certificates: TestCertificates!

    override func setUp() async throws {
        certificates = try await TestCertificates.make(in: try makeScratch())
    }

    /// The `TLSSetupError` making a layer from these files throws; fails the test when
    /// they load.
    private func setupError(
        certificate: String?, privateKey: String?, ca: String, file: StaticString = #filePath, line: UInt = #line
    ) -> String {
        do {
            let layer = try layer(certificate: certificate, privateKey: privateKey, ca: ca)
            XCTFail("loaded: \(layer.summary)", file: file, line: line)
            return ""
        } catch let error as TLSSetupError {
            return error.description
        } catch {
            XCTFail("not a TLSSetupError: \(error)", file: file, line: line)
            return ""
        }
    }

    private func assert(
        _ message: String, contains parts: String..., file: StaticString = #filePath, line: UInt = #line
    ) {
        for part in parts {
            XCTAssertTrue(message.contains(part), "\"\(message)\" does not say \"\(part)\"", file: file, line: line)
        }
    }

    func testAGoodSetLoadsAndItsSummaryNamesTheCertificate() async throws {
        let node = try await certificates.leaf("node", commonName: "node-a.test")
        let layer = try layer(node, ca: certificates.ca.certificate)
        assert(layer.summary, contains: "CN=node-a.test", "valid until")
        let now = Int(Date().timeIntervalSince1970)
        let left = try XCTUnwrap(layer.secondsToExpiry(now: now))
        XCTAssert((29 * 86400...30 * 86400).contains(left), "\(left) s to expiry for a 30-day certificate")
        // The warning is for certificates with less than 30 days left.
        XCTAssertTrue(layer.expiresSoon(now: now + 86400))
        XCTAssertFalse(layer.expiresSoon(now: now - 86400))
    }

    func testACASetWithoutACertificateOfItsOwnLoadsForAClient() async throws {
        let layer = try layer(certificate: nil, privateKey: nil, ca: certificates.ca.certificate)
        assert(layer.summary, contains: "no certificate of its own")
        XCTAssertNil(layer.secondsToExpiry(now: 0))
    }

    /// A certificate made for clients only (extended key usage clientAuth) is what kvctl
    /// and applications should hold: it loads for a client, and a daemon, which also
    /// listens with it, refuses it at start rather than have every peer refuse it.
    func testAClientOnlyCertificateLoadsForAClientAndIsRefusedForADaemon() async throws {
        let operatorLeaf = try await certificates.leaf("operator", extendedKeyUsage: "clientAuth")
        let client = try layer(operatorLeaf, ca: certificates.ca.certificate, role: .client)
        assert(client.summary, contains: "CN=operator")
        XCTAssertThrowsError(try layer(operatorLeaf, ca: certificates.ca.certificate, role: .member)) { error in
            assert("\(error)", contains: "operator.pem", "may not be used as a server's certificate")
        }
        // And the other way round: a server-only certificate cannot be a client's.
        let serverOnly = try await certificates.leaf("listener-only", extendedKeyUsage: "serverAuth")
        XCTAssertThrowsError(try layer(serverOnly, ca: certificates.ca.certificate, role: .client)) { error in
            assert("\(error)", contains: "may not be used as a client's certificate")
        }
    }

    /// A certificate from an intermediate CA, its file holding the intermediate after it
    /// (as `--tls-cert` says), loads against a CA file with the root only; the checks at
    /// load present the whole chain, as the listener will. Without the intermediate it is
    /// refused: peers could not build the path either.
    func testACertificateFromAnIntermediateLoadsWithItsChain() async throws {
        let intermediate = try await certificates.intermediate("issuing")
        let leaf = try await certificates.leaf("chained", issuer: intermediate)
        let chain = certificates.scratch.path("chained-chain.pem")
        let bytes =
            try Data(contentsOf: URL(fileURLWithPath: leaf.certificate))
            + Data(contentsOf: URL(fileURLWithPath: intermediate.certificate))
        try bytes.write(to: URL(fileURLWithPath: chain))
        let layer = try layer(certificate: chain, privateKey: leaf.privateKey, ca: certificates.ca.certificate)
        assert(layer.summary, contains: "CN=chained")
        XCTAssertThrowsError(try self.layer(leaf, ca: certificates.ca.certificate)) { error in
            assert("\(error)", contains: "not signed by a CA in")
        }
    }

    /// A server's certificate must name the address peers dial it at (`--advertise`): one
    /// that does not would be refused by every peer, so it is refused at load, with the
    /// subjectAltName entry it lacks. A name is not checked (a peer also accepts the
    /// address the name resolves to, which the process cannot know).
    func testAServersCertificateMustNameTheHostPeersDial() async throws {
        let node = try await certificates.leaf("named", subjectAltName: "IP:127.0.0.1,DNS:localhost")
        let files = TLSFiles(
            certificate: node.certificate, privateKey: node.privateKey, ca: certificates.ca.certificate)
        for host in ["127.0.0.1", "localhost", "kv-1.example"] {
            XCTAssertNoThrow(try TLSLayer(files: files, dialledAt: host, logger: Shared.logger), host)
        }
        for host in ["10.9.9.9", "::1"] {
            XCTAssertThrowsError(try TLSLayer(files: files, dialledAt: host, logger: Shared.logger), host) { error in
                assert("\(error)", contains: "named.pem does not name \(host)", "needs IP:\(host)")
            }
        }
        // A client is dialled by nobody: the host is not its to name.
        XCTAssertNoThrow(try TLSLayer(files: files, role: .client, dialledAt: "10.9.9.9", logger: Shared.logger))
    }

    func testAMissingCAFileIsNamed() async throws {
        let node = try await certificates.leaf("node")
        let missing = certificates.scratch.path("no-such-ca.pem")
        let message = setupError(certificate: node.certificate, privateKey: node.privateKey, ca: missing)
        assert(message, contains: "CA file", missing, "No such file")
    }

    func testACAFileThatIsNotPEMIsRefused() async throws {
        let node = try await certificates.leaf("node")
        let notPEM = certificates.scratch.path("not-pem.pem")
        try Data("this is not a certificate\n".utf8).write(to: URL(fileURLWithPath: notPEM))
        let message = setupError(certificate: node.certificate, privateKey: node.privateKey, ca: notPEM)
        assert(message, contains: "CA file", notPEM, "no PEM certificate")
        // A key is not a certificate either.
        let keyAsCA = setupError(certificate: node.certificate, privateKey: node.privateKey, ca: node.privateKey)
        assert(keyAsCA, contains: "CA file", node.privateKey, "no PEM certificate")
    }

    func testACertificateWithoutItsKeyAndAKeyWithoutItsCertificateAreRefused() async throws {
        let node = try await certificates.leaf("node")
        let ca = certificates.ca.certificate
        assert(
            setupError(certificate: node.certificate, privateKey: nil, ca: ca),
            contains: node.certificate, "without its private key")
        assert(
            setupError(certificate: nil, privateKey: node.privateKey, ca: ca),
            contains: node.privateKey, "without its certificate")
    }

    func testAMissingKeyFileIsNamed() async throws {
        let node = try await certificates.leaf("node")
        let missing = certificates.scratch.path("no-such.key")
        let message = setupError(certificate: node.certificate, privateKey: missing, ca: certificates.ca.certificate)
        assert(message, contains: "private key", missing, "No such file")
    }

    func testAnExpiredCertificateIsRefusedWithItsDate() async throws {
        let expired = try await certificates.expiredLeaf()
        let message = setupError(
            certificate: expired.certificate, privateKey: expired.privateKey, ca: certificates.ca.certificate)
        assert(message, contains: expired.certificate, "expired", "2020-02-01 00:00:00 UTC")
    }

    func testACertificateNotValidYetIsRefusedWithItsDate() async throws {
        let future = try await certificates.notYetValidLeaf()
        let message = setupError(
            certificate: future.certificate, privateKey: future.privateKey, ca: certificates.ca.certificate)
        assert(message, contains: future.certificate, "not valid before", "2090-01-01 00:00:00 UTC")
    }

    func testAKeyThatDoesNotMatchTheCertificateIsRefused() async throws {
        let node = try await certificates.leaf("node")
        let stray = try await certificates.strayKey()
        let message = setupError(certificate: node.certificate, privateKey: stray, ca: certificates.ca.certificate)
        assert(message, contains: stray, node.certificate, "does not match")
        // The other node's key, a real key for a real certificate, is as wrong.
        let other = try await certificates.leaf("other")
        assert(
            setupError(certificate: node.certificate, privateKey: other.privateKey, ca: certificates.ca.certificate),
            contains: "does not match")
    }

    func testACertificateSignedByAnotherCAIsRefused() async throws {
        let (untrusted, _) = try await certificates.untrustedLeaf()
        let message = setupError(
            certificate: untrusted.certificate, privateKey: untrusted.privateKey, ca: certificates.ca.certificate)
        assert(message, contains: untrusted.certificate, "not signed", certificates.ca.certificate)
    }

    func testACAFileNamingBothCAsAcceptsACertificateOfEither() async throws {
        let (untrusted, other) = try await certificates.untrustedLeaf()
        let both = try certificates.bundle("both-cas", of: [certificates.ca, other])
        let layer = try layer(untrusted, ca: both)
        assert(layer.summary, contains: "CN=untrusted")
    }
}
