import Foundation
import XCTest

/// Certificates for the TLS tests, made with openssl(1) (Debian package openssl, OpenSSL
/// 3.0) in a test's scratch directory: a CA, leaves it signs, and the bad material a
/// process must refuse (an expired leaf, one not valid yet, one for another name, one
/// from a CA nobody trusts, a key that matches no certificate).
///
/// Keys are EC P-256. A leaf is one `openssl req -x509 -CA` (key and certificate at
/// once); a leaf with dates of its own is a request and an `openssl ca -startdate
/// -enddate`, OpenSSL 3.0 having no `-not_before`. Each is made when asked for, so a test
/// runs openssl only for what it uses (a few milliseconds each).
package struct TestCertificates: Sendable {
    /// A CA: its certificate and key, and the files `openssl ca` keeps.
    package struct Authority: Sendable {
        package var name: String
        package var certificate: String
        package var privateKey: String
        fileprivate var config: String
    }

    /// A certificate and its private key.
    package struct Leaf: Sendable {
        package var commonName: String
        package var certificate: String
        package var privateKey: String

        package init(commonName: String, certificate: String, privateKey: String) {
            self.commonName = commonName
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    /// When a leaf is valid.
    package enum Validity: Sendable {
        /// From now, for this many days.
        case days(Int)
        /// Between two times, `YYYYMMDDHHMMSSZ` (UTC).
        case between(start: String, end: String)
    }

    /// The names a leaf is for by default: what the tests dial (an address) and a name.
    package static let loopbackNames = "IP:127.0.0.1,DNS:localhost"

    package let scratch: TestScratch
    package let openssl: String
    /// The cluster's CA: what the tests' processes trust.
    package let ca: Authority

    /// Makes the cluster's CA in `scratch`. Skips the test when openssl is not installed.
    package static func make(in scratch: TestScratch) async throws -> TestCertificates {
        guard let openssl = Binaries.tool("openssl") else {
            throw XCTSkip("openssl is not installed (Debian package openssl; scripts/lib/ensure-test-deps)")
        }
        let ca = try await makeAuthority("ca", commonName: "kvservice test CA", openssl: openssl, scratch: scratch)
        return TestCertificates(scratch: scratch, openssl: openssl, ca: ca)
    }

    /// An intermediate CA signed by the cluster's CA, as most PKIs issue from.
    package func intermediate(_ name: String) async throws -> Authority {
        try await Self.makeAuthority(
            name, commonName: "\(name) intermediate CA", issuer: ca, openssl: openssl, scratch: scratch)
    }

    /// Another CA, which the cluster does not trust (unless a test puts it in a CA file).
    package func authority(_ name: String) async throws -> Authority {
        try await Self.makeAuthority(name, commonName: "\(name) test CA", openssl: openssl, scratch: scratch)
    }

    /// A leaf signed by `issuer` (the cluster's CA by default), for `subjectAltName`, usable
    /// as a server's and as a client's certificate unless `extendedKeyUsage` says
    /// otherwise; `NAME.pem` and `NAME.key`.
    package func leaf(
        _ name: String, commonName: String? = nil, subjectAltName: String = loopbackNames,
        extendedKeyUsage: String = "serverAuth,clientAuth", issuer: Authority? = nil, validity: Validity = .days(30)
    ) async throws -> Leaf {
        let issuer = issuer ?? ca
        let leaf = Leaf(
            commonName: commonName ?? name, certificate: scratch.path("\(name).pem"),
            privateKey: scratch.path("\(name).key"))
        let request = [
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", leaf.privateKey,
            "-subj", "/CN=\(leaf.commonName)",
            "-addext", "subjectAltName=\(subjectAltName)",
            "-addext", "extendedKeyUsage=\(extendedKeyUsage)",
            "-addext", "keyUsage=critical,digitalSignature",
            "-addext", "basicConstraints=critical,CA:FALSE",
        ]
        switch validity {
        case .days(let days):
            try await run(
                ["req", "-x509", "-CA", issuer.certificate, "-CAkey", issuer.privateKey, "-days", "\(days)"]
                    + request + ["-out", leaf.certificate])
        case .between(let start, let end):
            let csr = scratch.path("\(name).csr")
            try await run(["req", "-new"] + request + ["-out", csr])
            try await run([
                "ca", "-batch", "-config", issuer.config, "-notext", "-in", csr, "-out", leaf.certificate,
                "-startdate", start, "-enddate", end,
            ])
        }
        return leaf
    }

    /// A leaf of the cluster's CA that expired in 2020.
    package func expiredLeaf(_ name: String = "expired") async throws -> Leaf {
        try await leaf(name, validity: .between(start: "20200101000000Z", end: "20200201000000Z"))
    }

    /// A leaf of the cluster's CA valid only from 2090.
    package func notYetValidLeaf(_ name: String = "future") async throws -> Leaf {
        try await leaf(name, validity: .between(start: "20900101000000Z", end: "20910101000000Z"))
    }

    /// A leaf of the cluster's CA for a name nobody dials (`DNS:wrong.example` only).
    package func wrongNameLeaf(_ name: String = "wrong-name") async throws -> Leaf {
        try await leaf(name, subjectAltName: "DNS:wrong.example")
    }

    /// A leaf signed by a second CA, which the cluster does not trust; and that CA.
    package func untrustedLeaf(_ name: String = "untrusted") async throws -> (Leaf, Authority) {
        let other = try await authority("other-ca")
        return (try await leaf(name, issuer: other), other)
    }

    /// A private key that belongs to no certificate: `NAME.key`.
    package func strayKey(_ name: String = "stray") async throws -> String {
        let path = scratch.path("\(name).key")
        try await run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
        return path
    }

    /// One CA file holding the certificates of `authorities`: `NAME.pem`.
    package func bundle(_ name: String, of authorities: [Authority]) throws -> String {
        let path = scratch.path("\(name).pem")
        var contents = Data()
        for authority in authorities {
            contents.append(try Data(contentsOf: URL(fileURLWithPath: authority.certificate)))
        }
        try contents.write(to: URL(fileURLWithPath: path))
        return path
    }

    private func run(_ arguments: [String]) async throws {
        try await Self.run(arguments, openssl: openssl, scratch: scratch)
    }

    private static func run(_ arguments: [String], openssl: String, scratch: TestScratch) async throws {
        let result = try await scratch.run("openssl", openssl, arguments)
        guard result.status == 0 else {
            throw TestSetupError(
                "openssl \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
    }

    private static func makeAuthority(
        _ name: String, commonName: String, issuer: Authority? = nil, openssl: String, scratch: TestScratch
    ) async throws -> Authority {
        let database = scratch.path("\(name)-db")
        try FileManager.default.createDirectory(atPath: database, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(database)/index.txt", contents: Data())
        let authority = Authority(
            name: name, certificate: scratch.path("\(name).pem"), privateKey: scratch.path("\(name).key"),
            config: "\(database)/ca.cnf")
        // What `openssl ca` needs to sign a request with dates of our choosing; the
        // request's extensions (names, usages) are copied into the certificate.
        let config = """
            [ ca ]
            default_ca = test_ca
            [ test_ca ]
            database = \(database)/index.txt
            new_certs_dir = \(database)
            rand_serial = yes
            unique_subject = no
            certificate = \(authority.certificate)
            private_key = \(authority.privateKey)
            default_md = sha256
            policy = any_name
            copy_extensions = copy
            [ any_name ]
            commonName = supplied

            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: authority.config))
        try await run(
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", authority.privateKey, "-out", authority.certificate, "-days", "3650",
                "-subj", "/CN=\(commonName)",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ] + (issuer.map { ["-CA", $0.certificate, "-CAkey", $0.privateKey] } ?? []), openssl: openssl,
            scratch: scratch)
        return authority
    }
}
