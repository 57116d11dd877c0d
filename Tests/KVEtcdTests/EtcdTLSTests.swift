import KVEtcd
import KVTLS
import KVTestSupport
import NIOCore
import XCTest

/// The client against a real one-member etcd that serves its client URL in TLS only and
/// requires a client certificate signed by its CA (`--client-cert-auth`), shared by the
/// class's tests: what a monitor given `--etcd-cacert`, `--etcd-cert` and `--etcd-key`
/// speaks. Certificates are made with openssl in the cluster's directory.
final class EtcdTLSTests: XCTestCase {
    private static let shared = SharedEtcdCluster(members: 1, tls: true)

    override class func tearDown() {
        shared.stop()
        super.tearDown()
    }

    /// The shared TLS cluster and its material.
    private func cluster() async throws -> (EtcdCluster, EtcdCluster.TLS) {
        let cluster = try await Self.shared.healthyCluster()
        return (cluster, try XCTUnwrap(cluster.tls, "a cluster started with tls: true"))
    }

    /// A client of the cluster's member, speaking TLS with `files` (or no TLS at all).
    private func client(_ cluster: EtcdCluster, files: TLSFiles?) throws -> EtcdClient {
        var tls: TLSLayer?
        if let files { tls = try TLSLayer(files: files, logger: Shared.logger) }
        let client = EtcdClient(
            endpoints: try cluster.endpoints.map(EtcdEndpoint.parse), group: Shared.group,
            requestTimeout: .seconds(2), tls: tls, logger: Shared.logger)
        addTeardownBlock { client.close() }
        return client
    }

    /// This test's keys start with it.
    private var prefix: [UInt8] {
        bytes("kv-tls-tests/\(name.split(separator: " ").last?.filter { $0.isLetter } ?? "test")/")
    }

    func testAClientWithACertificateOfTheCAReadsWritesLeasesAndWatches() async throws {
        let (cluster, tls) = try await cluster()
        XCTAssertTrue(cluster.endpoints.allSatisfy { $0.hasPrefix("https://127.0.0.1:") }, "\(cluster.endpoints)")
        let client = try client(
            cluster,
            files: TLSFiles(certificate: tls.client.certificate, privateKey: tls.client.privateKey, ca: tls.ca))
        let key = prefix + bytes("k")

        // Writes and reads.
        let put = try await client.txn(compare: [], success: [.put(key: key, value: bytes("1"))], failure: []).get()
        XCTAssertTrue(put.succeeded)
        XCTAssertEqual(put.results, [.put])
        let (kv, revision) = try await client.get(key).get()
        XCTAssertEqual(
            kv,
            EtcdKeyValue(
                key: key, value: bytes("1"), createRevision: put.revision, modRevision: put.revision, version: 1))
        XCTAssertGreaterThanOrEqual(revision, put.revision)

        // A transaction with a comparison, both ways.
        let fenced = try await client.txn(
            compare: [.createRevision(key: key, equals: put.revision)], success: [.put(key: key, value: bytes("2"))],
            failure: [.get(key: key)]
        ).get()
        XCTAssertTrue(fenced.succeeded)
        let refused = try await client.txn(
            compare: [.createRevision(key: key, equals: 0)], success: [.put(key: key, value: bytes("3"))],
            failure: [.get(key: key)]
        ).get()
        XCTAssertFalse(refused.succeeded)
        guard case .get(let kvs) = refused.results.first else { return XCTFail("not a get: \(refused.results)") }
        XCTAssertEqual(kvs.map(\.value), [bytes("2")])

        // A lease: granted, renewed on the keep-alive stream, revoked.
        let lease = try await client.grantLease(ttlSeconds: 5).get()
        let renewed = try await client.keepAlive(lease: lease.id).get()
        XCTAssertNotNil(renewed, "a live lease is renewed")
        try await client.revoke(lease: lease.id).get()
        let gone = try await client.keepAlive(lease: lease.id).get()
        XCTAssertNil(gone, "a revoked lease is gone")

        // A watch from the first put sees the history and what comes after.
        let seen = Locked<[EtcdWatchEvent]>([])
        let watch = client.watch(prefix: prefix, fromRevision: put.revision) { events, _ in
            seen.update { $0 += events }
        }
        let deleted = try await client.txn(compare: [], success: [.delete(key: key)], failure: []).get()
        try await waitUntil("the watch saw 3 events", timeout: 5, detail: { "\(seen.get())" }) {
            seen.get().count >= 3
        }
        XCTAssertEqual(
            seen.get(),
            [
                .put(
                    EtcdKeyValue(
                        key: key, value: bytes("1"), createRevision: put.revision, modRevision: put.revision,
                        version: 1)),
                .put(
                    EtcdKeyValue(
                        key: key, value: bytes("2"), createRevision: put.revision, modRevision: fenced.revision,
                        version: 2)),
                .delete(key: key, modRevision: deleted.revision),
            ])
        watch.cancel()
        let end = try await endOf(watch, within: 5)
        XCTAssertEqual(end, .closed)
    }

    /// A client that trusts another CA refuses the member's certificate: the request and
    /// the watch fail at once with the handshake's reason.
    func testAClientTrustingAnotherCARefusesTheMembersCertificate() async throws {
        let (cluster, tls) = try await cluster()
        let other = try await tls.certificates.authority("etcd-other-ca")
        let stranger = try await tls.certificates.leaf("etcd-stranger", issuer: other)
        let client = try client(
            cluster,
            files: TLSFiles(certificate: stranger.certificate, privateKey: stranger.privateKey, ca: other.certificate))

        let clock = ContinuousClock()
        let started = clock.now
        let error = await etcdError(client.get(prefix + bytes("k")))
        guard case .unreachable(let endpoint, let detail) = error else {
            return XCTFail("\(String(describing: error))")
        }
        XCTAssertEqual(endpoint, cluster.endpoints[0])
        XCTAssertTrue(detail.contains("TLS handshake with 127.0.0.1:\(cluster.clientPorts[0]) failed"), detail)
        XCTAssertTrue(detail.contains("not signed by a CA this process trusts"), detail)
        XCTAssertTrue(detail.contains("CERTIFICATE_VERIFY_FAILED"), detail)
        XCTAssertLessThan(clock.now - started, .seconds(1), "a refused certificate fails at once, not at the timeout")

        let watch = client.watch(prefix: prefix, fromRevision: 0) { _, _ in }
        let end = try await endOf(watch, within: 5)
        guard case .unreachable(_, let watchDetail) = end else { return XCTFail("\(String(describing: end))") }
        XCTAssertTrue(watchDetail.contains("CERTIFICATE_VERIFY_FAILED"), watchDetail)
    }

    /// A client that trusts the member but presents no certificate is refused by
    /// `--client-cert-auth` (under TLS 1.3 the refusal comes after the client's part of
    /// the handshake, as the first read's error). KVTLS words etcd's bad_certificate alert
    /// as "the peer refused this process's certificate", although none was presented.
    func testAClientWithoutACertificateIsRefusedByClientCertAuth() async throws {
        let (cluster, tls) = try await cluster()
        let client = try client(cluster, files: TLSFiles(certificate: nil, privateKey: nil, ca: tls.ca))

        let error = await etcdError(client.get(prefix + bytes("k")))
        guard case .unreachable(_, let detail) = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(detail.contains("TLS handshake with 127.0.0.1:\(cluster.clientPorts[0]) failed"), detail)
        // etcd 3.4 (Go 1.19) answers a missing certificate with a bad_certificate alert; a
        // later Go says certificate_required.
        XCTAssertTrue(detail.contains("[BAD_CERTIFICATE]") || detail.contains("[CERTIFICATE_REQUIRED]"), detail)

        let write = await etcdError(
            client.txn(compare: [], success: [.put(key: prefix + bytes("k"), value: [])], failure: []))
        guard case .unreachable(_, let writeDetail) = write else { return XCTFail("\(String(describing: write))") }
        XCTAssertTrue(writeDetail.contains("TLS handshake"), writeDetail)

        // The member is fine: a client with a certificate of the CA is served.
        XCTAssertTrue(cluster.isHealthy(0))
    }

    /// An https:// endpoint given no TLS fails every request and watch at once, saying so,
    /// instead of speaking plain HTTP to a TLS port.
    func testAnHTTPSEndpointWithoutTLSFailsSayingNoTLSIsConfigured() async throws {
        let (cluster, _) = try await cluster()
        let client = try client(cluster, files: nil)

        let error = await etcdError(client.get(prefix + bytes("k")))
        guard case .unreachable(let endpoint, let detail) = error else {
            return XCTFail("\(String(describing: error))")
        }
        XCTAssertEqual(endpoint, cluster.endpoints[0])
        XCTAssertTrue(detail.contains("\(cluster.endpoints[0]) is https://, and no TLS is configured"), detail)

        let watch = client.watch(prefix: prefix, fromRevision: 0) { _, _ in }
        let end = try await endOf(watch, within: 5)
        guard case .unreachable(_, let watchDetail) = end else { return XCTFail("\(String(describing: end))") }
        XCTAssertTrue(watchDetail.contains("no TLS is configured (--etcd-cacert)"), watchDetail)
    }
}
