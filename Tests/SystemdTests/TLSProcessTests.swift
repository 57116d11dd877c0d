import Foundation
import KVTestSupport
import XCTest

/// TLS on every link, with real kv-monitor and kv-server processes: each with its own
/// certificate (TestCertificates, made with openssl), redis-cli --tls on the servers'
/// Redis-protocol ports, kvctl with `KV_TLS_*`, openssl s_client to see which certificate
/// a listener presents. Replication and a failover over TLS links; clients without a
/// certificate under `--tls-client-auth required` and `optional`; a SIGHUP reload of the
/// certificate (a connection from before it keeps working) and a failed one; daemons that
/// refuse to start with an expired certificate, a key that does not match, a certificate
/// of another CA.
final class TLSProcessTests: XCTestCase {
    /// The cluster's certificates: one per daemon and an operator's (the client's).
    private struct Material {
        var certificates: TestCertificates
        var monitor: TestCertificates.Leaf
        var servers: [TestCertificates.Leaf]
        var client: TestCertificates.Leaf
        var ca: String { certificates.ca.certificate }

        static func make(in scratch: TestScratch) async throws -> Material {
            let certificates = try await TestCertificates.make(in: scratch)
            return Material(
                certificates: certificates, monitor: try await certificates.leaf("monitor", commonName: "kv-monitor"),
                servers: [
                    try await certificates.leaf("server-0", commonName: "kv-server-0"),
                    try await certificates.leaf("server-1", commonName: "kv-server-1"),
                ], client: try await certificates.leaf("operator"))
        }

        static func flags(_ leaf: TestCertificates.Leaf, ca: String) -> [String] {
            ["--tls-cert", leaf.certificate, "--tls-key", leaf.privateKey, "--tls-ca", ca]
        }

        /// kvctl with the CA and the operator's certificate.
        var kvctlEnvironment: [String: String] {
            ["KV_TLS_CA": ca, "KV_TLS_CERT": client.certificate, "KV_TLS_KEY": client.privateKey]
        }

        /// redis-cli's TLS flags: the CA, and the operator's certificate unless `withCertificate` is false.
        func redisCLI(withCertificate: Bool = true) -> [String] {
            ["--tls", "--cacert", ca]
                + (withCertificate ? ["--cert", client.certificate, "--key", client.privateKey] : [])
        }
    }

    private struct Tools {
        var redisCLI: String
        var openssl: String
    }

    private func tools() throws -> Tools {
        guard let cli = Binaries.tool("redis-cli") else {
            throw XCTSkip("redis-cli is not installed (Debian package redis-tools)")
        }
        guard let openssl = Binaries.tool("openssl") else {
            throw XCTSkip("openssl is not installed (Debian package openssl)")
        }
        return Tools(redisCLI: cli, openssl: openssl)
    }

    /// A monitor and two servers, every one with its own certificate; `clientAuth`, when
    /// given, as `--tls-client-auth` to all three.
    private func startTLSCluster(
        _ scratch: TestScratch, _ material: Material, clientAuth: String? = nil
    ) async throws -> RESPProcessCluster {
        let policy = clientAuth.map { ["--tls-client-auth", $0] } ?? []
        return try await startRESPProcessCluster(
            scratch, monitorArguments: Material.flags(material.monitor, ca: material.ca) + policy,
            serverArguments: { Material.flags(material.servers[$0], ca: material.ca) + policy },
            kvctlEnvironment: material.kvctlEnvironment)
    }

    /// The subject of the certificate the listener at `port` presents, as openssl
    /// s_client prints it with its spaces removed (`subject=CN=NAME`), after checking
    /// it against the CA; the operator's certificate is presented.
    private func presentedSubject(
        _ scratch: TestScratch, _ tools: Tools, _ material: Material, port: Int
    ) async throws -> String {
        let run = try await scratch.run(
            "openssl-s_client", tools.openssl,
            [
                "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", material.ca, "-cert",
                material.client.certificate, "-key", material.client.privateKey, "-verify_return_error",
            ], timeout: 15)
        guard run.status == 0 else { return "s_client exited \(run.status): \(run.stderr.suffix(500))" }
        let subject = run.stdout.split(separator: "\n").first { $0.hasPrefix("subject=") }
        return subject.map { $0.filter { $0 != " " } } ?? "no subject= line in: \(run.stdout.suffix(500))"
    }

    private func port(of address: String) -> Int { Int(address.split(separator: ":").last ?? "") ?? 0 }

    /// `kvctl view --json`'s primary, or what kvctl said instead.
    private func primary(inView json: String) -> String {
        let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return object?["primary"] as? String ?? "no primary in: \(json)"
    }

    // MARK: - 1. Replication and a failover, every link TLS

    func testRedisCLIOverTLSThroughReplicationAndAFailover() async throws {
        let tools = try tools()
        let scratch = try makeScratch()
        let material = try await Material.make(in: scratch)
        let cluster = try await startTLSCluster(scratch, material)
        func cli(_ port: Int, _ arguments: [String]) async throws -> ProcessResult {
            try await scratch.run(
                "redis-cli", tools.redisCLI, material.redisCLI() + ["-h", "127.0.0.1", "-p", "\(port)"] + arguments)
        }

        // Every listener speaks TLS and presents its own certificate: the monitor's and
        // both servers' kvservice ports (the links between them), the primary's Redis port.
        for (port, name) in [
            (port(of: cluster.monitor), "kv-monitor"), (port(of: cluster.primary), "kv-server-0"),
            (port(of: cluster.backup), "kv-server-1"), (cluster.primaryRESP, "kv-server-0"),
        ] {
            let subject = try await presentedSubject(scratch, tools, material, port: port)
            XCTAssertEqual(subject, "subject=CN=\(name)", "port \(port)")
        }

        let set = try await cli(cluster.primaryRESP, ["SET", "k", "over TLS"])
        XCTAssertEqual(set.stdout, "OK\n", set.stderr)
        let get = try await cli(cluster.primaryRESP, ["GET", "k"])
        XCTAssertEqual(get.stdout, "over TLS\n", get.stderr)
        let info = try await cli(cluster.primaryRESP, ["--no-raw", "INFO", "replication"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("role:master"), info.stdout)
        XCTAssertTrue(info.stdout.contains("connected_slaves:1"), info.stdout)
        let native = try await scratch.kvctl(
            ["get", "k", "--monitor", cluster.monitor, "--timeout", "10"], environment: material.kvctlEnvironment)
        XCTAssertEqual(native.status, 0, native.stderr)
        XCTAssertEqual(native.stdout, "over TLS\n", "kvctl with KV_TLS_* reads what redis-cli wrote")

        cluster.primaryProcess.signal(SIGKILL)
        var promoted = ""
        try await waitUntil(
            "the former backup serves k over TLS after the failover", timeout: 20,
            detail: { promoted + cluster.monitorProcess.outputSummary }
        ) {
            let run = try await cli(cluster.backupRESP, ["GET", "k"])
            promoted = run.stdout + run.stderr
            return run.stdout == "over TLS\n"
        }
        let incr = try await cli(cluster.backupRESP, ["INCR", "n"])
        XCTAssertEqual(incr.stdout, "1\n", incr.stderr)
        let setAfter = try await cli(cluster.backupRESP, ["SET", "after", "failover"])
        XCTAssertEqual(setAfter.stdout, "OK\n", setAfter.stderr)
        // The monitor made the former backup primary; kvctl finds it there, over TLS.
        let view = try await scratch.kvctl(
            ["view", "--json", "--monitor", cluster.monitor, "--timeout", "10"], environment: material.kvctlEnvironment)
        XCTAssertEqual(primary(inView: view.stdout), cluster.backup, view.stderr)
        let readBack = try await scratch.kvctl(
            ["get", "after", "--monitor", cluster.monitor, "--timeout", "10"], environment: material.kvctlEnvironment)
        XCTAssertEqual(readBack.stdout, "failover\n", readBack.stderr)
    }

    // MARK: - 2. Clients without a certificate, or without TLS, under the default (required)

    func testClientsWithoutACertificateOrWithoutTLSAreRefused() async throws {
        let tools = try tools()
        let scratch = try makeScratch()
        let material = try await Material.make(in: scratch)
        let cluster = try await startTLSCluster(scratch, material)
        let put = try await scratch.kvctl(
            ["put", "k", "secret", "--monitor", cluster.monitor, "--timeout", "10"],
            environment: material.kvctlEnvironment)
        XCTAssertEqual(put.status, 0, put.stderr)

        let noCertificate = try await scratch.run(
            "redis-cli", tools.redisCLI,
            material.redisCLI(withCertificate: false) + ["-h", "127.0.0.1", "-p", "\(cluster.primaryRESP)", "GET", "k"]
        )
        XCTAssertNotEqual(noCertificate.status, 0, noCertificate.stdout)
        XCTAssertFalse(noCertificate.stdout.contains("secret"), noCertificate.stdout)
        try await waitUntil(
            "the primary logs the refused handshake", timeout: 5, detail: { cluster.primaryProcess.outputSummary }
        ) {
            cluster.primaryProcess.stderr.contains("kv_event=tls-refused")
                && cluster.primaryProcess.stderr.contains("the peer presented no certificate")
        }

        let caOnly = try await scratch.kvctl(
            ["get", "k", "--monitor", cluster.monitor, "--timeout", "10"], environment: ["KV_TLS_CA": material.ca])
        XCTAssertEqual(caOnly.status, 1, caOnly.stderr)
        XCTAssertEqual(caOnly.stdout, "")
        XCTAssertTrue(caOnly.stderr.contains("requires a client certificate"), caOnly.stderr)

        let plain = try await scratch.run(
            "redis-cli", tools.redisCLI, ["-h", "127.0.0.1", "-p", "\(cluster.primaryRESP)", "GET", "k"])
        XCTAssertNotEqual(plain.status, 0, plain.stdout)
        XCTAssertFalse(plain.stdout.contains("secret"), plain.stdout)

        let noTLS = try await scratch.kvctl(["get", "k", "--monitor", cluster.monitor, "--timeout", "10"])
        XCTAssertEqual(noTLS.status, 1, noTLS.stderr)
        XCTAssertEqual(noTLS.stdout, "")
        XCTAssertTrue(noTLS.stderr.contains("speaks TLS"), noTLS.stderr)
    }

    // MARK: - 3. --tls-client-auth optional: data without a certificate, view changes only with one

    func testOptionalClientAuthServesDataButRefusesASwitchoverWithoutACertificate() async throws {
        let tools = try tools()
        let scratch = try makeScratch()
        let material = try await Material.make(in: scratch)
        let cluster = try await startTLSCluster(scratch, material, clientAuth: "optional")
        let caOnly = ["KV_TLS_CA": material.ca]

        let put = try await scratch.kvctl(
            ["put", "k", "no certificate", "--monitor", cluster.monitor, "--timeout", "10"], environment: caOnly)
        XCTAssertEqual(put.status, 0, put.stderr)
        let get = try await scratch.kvctl(
            ["get", "k", "--monitor", cluster.monitor, "--timeout", "10"], environment: caOnly)
        XCTAssertEqual(get.status, 0, get.stderr)
        XCTAssertEqual(get.stdout, "no certificate\n")
        let redis = try await scratch.run(
            "redis-cli", tools.redisCLI,
            material.redisCLI(withCertificate: false) + ["-h", "127.0.0.1", "-p", "\(cluster.primaryRESP)", "GET", "k"]
        )
        XCTAssertEqual(redis.stdout, "no certificate\n", "redis-cli --tls without --cert: \(redis.stderr)")

        func view() async throws -> String {
            let run = try await scratch.kvctl(
                ["view", "--json", "--monitor", cluster.monitor, "--timeout", "10"], environment: caOnly)
            XCTAssertEqual(run.status, 0, "kvctl view without a certificate: \(run.stderr)")
            return run.stdout
        }
        let before = try await view()
        XCTAssertEqual(primary(inView: before), cluster.primary)

        let refused = try await scratch.kvctl(
            ["switchover", "--monitor", cluster.monitor, "--timeout", "10"], environment: caOnly)
        XCTAssertNotEqual(refused.status, 0, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("authentication failed"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("switchover needs a client certificate"), refused.stderr)
        XCTAssertFalse(refused.stdout.contains("switched over"), refused.stdout)
        let after = try await view()
        XCTAssertEqual(after, before, "the refused switchover left the view alone")

        let switched = try await scratch.kvctl(
            ["switchover", "--monitor", cluster.monitor, "--timeout", "20"], environment: material.kvctlEnvironment)
        XCTAssertEqual(switched.status, 0, switched.stderr)
        XCTAssertTrue(switched.stdout.contains("primary \(cluster.backup) (was \(cluster.primary))"), switched.stdout)
        let final = try await view()
        XCTAssertEqual(primary(inView: final), cluster.backup)
        let moved = try await scratch.run(
            "redis-cli", tools.redisCLI,
            material.redisCLI(withCertificate: false) + ["-h", "127.0.0.1", "-p", "\(cluster.backupRESP)", "GET", "k"]
        )
        XCTAssertEqual(moved.stdout, "no certificate\n", "the new primary serves k: \(moved.stderr)")
    }

    // MARK: - 4. SIGHUP: a new certificate for new connections; a broken key file keeps the old one

    /// Opens one TLS connection to a Redis-protocol port (Python's ssl module, RESP by
    /// hand), SETs a key, prints `before CN reply`; once the file `argv[5]` exists, GETs
    /// the key over the same connection and prints `after CN reply`, CN being the
    /// subject of the certificate that connection's server presented.
    private static let longLivedClient = #"""
        import os, socket, ssl, sys, time

        port, ca, cert, key, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.load_verify_locations(ca)
        context.load_cert_chain(cert, key)
        connection = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20))
        replies = connection.makefile("rb")

        def command(*words):
            frame = b"*%d\r\n" % len(words)
            for word in words:
                frame += b"$%d\r\n%s\r\n" % (len(word), word.encode())
            connection.sendall(frame)
            line = replies.readline()
            if line.startswith(b"$") and int(line[1:]) >= 0:
                return replies.read(int(line[1:]) + 2)[:-2].decode()
            # A simple string or an integer without its type byte; an error with it.
            return line.rstrip(b"\r\n").decode().lstrip("+:")

        def subject():
            return dict(pair[0] for pair in connection.getpeercert()["subject"])["commonName"]

        print("before", subject(), command("SET", "before-reload", "kept"), flush=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(go):
            if time.monotonic() > deadline:
                sys.exit("no " + go + " within 30 s")
            time.sleep(0.02)
        print("after", subject(), command("GET", "before-reload"), flush=True)
        """#

    func testSIGHUPReloadsTheCertificateForNewConnectionsAndKeepsItWhenTheNewFilesAreBroken() async throws {
        let tools = try tools()
        guard let python = Binaries.tool("python3") else { throw XCTSkip("python3 is not installed") }
        let scratch = try makeScratch()
        let material = try await Material.make(in: scratch)
        let renewed = try await material.certificates.leaf("server-0-renewed", commonName: "kv-server-0-renewed")
        let cluster = try await startTLSCluster(scratch, material)
        let primary = cluster.primaryProcess
        let script = scratch.path("long_lived_client.py")
        try Data(Self.longLivedClient.utf8).write(to: URL(fileURLWithPath: script))
        let go = scratch.path("go")

        let client = try scratch.spawn(
            "long-lived-client", python,
            [
                script, "\(cluster.primaryRESP)", material.ca, material.client.certificate,
                material.client.privateKey, go,
            ])
        try await waitUntil("the long-lived client is connected", timeout: 10, detail: { client.outputSummary }) {
            client.stdout.contains("\n") || !client.isRunning
        }
        XCTAssertEqual(client.stdout, "before kv-server-0 OK\n", client.outputSummary)

        // New files in place of the primary's, then SIGHUP.
        let files = material.servers[0]
        for (from, to) in [(renewed.certificate, files.certificate), (renewed.privateKey, files.privateKey)] {
            try FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        XCTAssertFalse(primary.stderr.contains("TLS certificate, key and CA reloaded"))
        primary.signal(SIGHUP)
        try await waitUntil("the primary logs the reload", timeout: 10, detail: { primary.outputSummary }) {
            primary.stderr.contains("TLS certificate, key and CA reloaded")
        }
        XCTAssertTrue(primary.stderr.contains("kv_event=reload"), primary.outputSummary)
        XCTAssertTrue(primary.isRunning)
        var subject = try await presentedSubject(scratch, tools, material, port: cluster.primaryRESP)
        XCTAssertEqual(subject, "subject=CN=kv-server-0-renewed", "a new connection to the Redis port")
        subject = try await presentedSubject(scratch, tools, material, port: port(of: cluster.primary))
        XCTAssertEqual(subject, "subject=CN=kv-server-0-renewed", "a new connection to the kvservice port")

        // The connection from before the reload keeps its certificate and still answers.
        FileManager.default.createFile(atPath: go, contents: Data())
        try await client.waitForExit(within: 15)
        XCTAssertEqual(client.exitCode, 0, client.outputSummary)
        XCTAssertEqual(client.stdout, "before kv-server-0 OK\nafter kv-server-0 kept\n", client.outputSummary)
        // The pair is still healthy over its established link.
        let status = try await scratch.kvctl(
            ["status", "--monitor", cluster.monitor, "--timeout", "10"], environment: material.kvctlEnvironment)
        XCTAssertEqual(status.status, 0, "\(status.stdout)\(status.stderr)")

        // A broken key file: the reload fails, the process goes on with the certificate it has.
        try Data("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n".utf8).write(
            to: URL(fileURLWithPath: files.privateKey))
        primary.signal(SIGHUP)
        try await waitUntil("the primary logs the failed reload", timeout: 10, detail: { primary.outputSummary }) {
            primary.stderr.contains("TLS reload failed")
        }
        XCTAssertTrue(primary.stderr.contains("kv_event=reload-failed"), primary.outputSummary)
        XCTAssertTrue(primary.isRunning, primary.outputSummary)
        subject = try await presentedSubject(scratch, tools, material, port: cluster.primaryRESP)
        XCTAssertEqual(subject, "subject=CN=kv-server-0-renewed", "new connections after the failed reload")
        let get = try await scratch.run(
            "redis-cli", tools.redisCLI,
            material.redisCLI() + ["-h", "127.0.0.1", "-p", "\(cluster.primaryRESP)", "GET", "before-reload"])
        XCTAssertEqual(get.stdout, "kept\n", get.stderr)
        let native = try await scratch.kvctl(
            ["get", "before-reload", "--monitor", cluster.monitor, "--timeout", "10"],
            environment: material.kvctlEnvironment)
        XCTAssertEqual(native.stdout, "kept\n", native.stderr)
    }

    // MARK: - 5. Bad material: the daemons refuse to start

    func testDaemonsRefuseToStartWithAnExpiredCertificateAMismatchedKeyOrAnotherCA() async throws {
        let scratch = try makeScratch()
        let certificates = try await TestCertificates.make(in: scratch)
        let ca = certificates.ca.certificate
        let good = try await certificates.leaf("good")
        let expired = try await certificates.expiredLeaf()
        let stray = try await certificates.strayKey()
        let (foreign, _) = try await certificates.untrustedLeaf()
        let cases: [(what: String, flags: [String], expected: String)] = [
            (
                "an expired certificate",
                ["--tls-cert", expired.certificate, "--tls-key", expired.privateKey, "--tls-ca", ca],
                "the certificate \(expired.certificate) expired on"
            ),
            (
                "a key that does not match", ["--tls-cert", good.certificate, "--tls-key", stray, "--tls-ca", ca],
                "the private key \(stray) does not match the certificate \(good.certificate)"
            ),
            (
                "a certificate of another CA",
                ["--tls-cert", foreign.certificate, "--tls-key", foreign.privateKey, "--tls-ca", ca],
                "the certificate \(foreign.certificate) is not signed by a CA in \(ca)"
            ),
        ]
        let monitor = "127.0.0.1:\(try Loopback.freePort())"
        for (what, flags, expected) in cases {
            for (name, executable, arguments) in [
                ("kv-monitor", Binaries.monitor, ["--listen", monitor]),
                (
                    "kv-server", Binaries.server,
                    ["--listen", "127.0.0.1:\(try Loopback.freePort())", "--monitor", monitor]
                ),
            ] {
                let run = try await scratch.run(
                    name, executable, arguments + ["--log-target", "stderr"] + flags, timeout: 15)
                XCTAssertEqual(run.status, 1, "\(name) with \(what): \(run.stderr)")
                XCTAssertTrue(run.stderr.contains("cannot start"), "\(name) with \(what): \(run.stderr)")
                XCTAssertTrue(run.stderr.contains(expected), "\(name) with \(what): \(run.stderr)")
            }
        }
    }
}
