import Foundation
import KVTLS
import KVTestSupport
import XCTest

/// `TLSLayer.reload()` (SIGHUP): new connections get the material read last, established
/// ones keep theirs, and unusable files change nothing.
final class TLSReloadTests: XCTestCase {
    private var certificates: TestCertificates!
    private var ca: String { certificates.ca.certificate }

    override func setUp() async throws {
        certificates = try await TestCertificates.make(in: try makeScratch())
    }

    /// The listener's files: `live.pem` and `live.key`, a copy of `leaf`'s.
    private func install(_ leaf: TestCertificates.Leaf) throws -> TestCertificates.Leaf {
        let live = TestCertificates.Leaf(
            commonName: leaf.commonName, certificate: certificates.scratch.path("live.pem"),
            privateKey: certificates.scratch.path("live.key"))
        // Replaced whole, as a deployment tool would (rename over the old file).
        for (from, to) in [(leaf.certificate, live.certificate), (leaf.privateKey, live.privateKey)] {
            let temporary = to + ".new"
            try Data(contentsOf: URL(fileURLWithPath: from)).write(to: URL(fileURLWithPath: temporary))
            XCTAssertEqual(rename(temporary, to), 0, "rename \(temporary)")
        }
        return live
    }

    func testNewConnectionsGetTheNewCertificateAndEstablishedOnesGoOn() async throws {
        let first = try await certificates.leaf("first", commonName: "node-first")
        let second = try await certificates.leaf("second", commonName: "node-second")
        let log = LogRecorder()
        let tls = try layer(try install(first), ca: ca, log: log)
        let listener = try await startListener(tls, log: log)
        let client = try layer(try await certificates.leaf("client"), ca: ca)

        let before = try await connect(listener.address, tls: client)
        let beforeName = try await peerCommonName(before)
        XCTAssertEqual(beforeName, "node-first")
        XCTAssertTrue(tls.summary.contains("CN=node-first"), tls.summary)

        _ = try install(second)
        let summary = try tls.reload()
        XCTAssertTrue(summary.contains("CN=node-second"), summary)
        XCTAssertEqual(tls.summary, summary)

        let after = try await connect(listener.address, tls: client)
        let afterName = try await peerCommonName(after)
        XCTAssertEqual(afterName, "node-second")
        try await checkRequest(after)
        // The connection from before the reload is untouched.
        try await checkRequest(before)
        XCTAssertTrue(before.isActive)
        XCTAssertTrue(listener.refusals.isEmpty, "\(listener.refusals.map(\.message))")
    }

    func testAReloadOfUnusableFilesThrowsAndKeepsTheMaterial() async throws {
        let first = try await certificates.leaf("first", commonName: "node-first")
        let log = LogRecorder()
        let live = try install(first)
        let tls = try layer(live, ca: ca, log: log)
        let listener = try await startListener(tls, log: log)
        let client = try layer(try await certificates.leaf("client"), ca: ca)
        let before = try await connect(listener.address, tls: client)

        let broken: [(String, () async throws -> Void, String)] = [
            (
                "a certificate file that is not PEM",
                { try Data("garbage\n".utf8).write(to: URL(fileURLWithPath: live.certificate)) },
                "no PEM certificate"
            ),
            (
                "an expired certificate",
                { _ = try self.install(try await self.certificates.expiredLeaf()) }, "expired"
            ),
            (
                "a certificate with another's key",
                {
                    let other = try await self.certificates.leaf("other", commonName: "node-other")
                    try Data(contentsOf: URL(fileURLWithPath: other.certificate))
                        .write(to: URL(fileURLWithPath: live.certificate))
                    try Data(contentsOf: URL(fileURLWithPath: first.privateKey))
                        .write(to: URL(fileURLWithPath: live.privateKey))
                },
                "does not match"
            ),
            ("a missing key", { XCTAssertEqual(unlink(live.privateKey), 0) }, "No such file"),
        ]
        for (what, breakFiles, expected) in broken {
            try await breakFiles()
            do {
                let summary = try tls.reload()
                XCTFail("\(what): reloaded: \(summary)")
            } catch {
                XCTAssertTrue(error.description.contains(expected), "\(what): \(error)")
            }
            XCTAssertTrue(tls.summary.contains("CN=node-first"), "\(what): \(tls.summary)")
            let after = try await connect(listener.address, tls: client)
            let afterName = try await peerCommonName(after)
            XCTAssertEqual(afterName, "node-first", what)
            try await checkRequest(after)
            try await checkRequest(before)
        }
        XCTAssertTrue(listener.refusals.isEmpty, "\(listener.refusals.map(\.message))")
    }
}
