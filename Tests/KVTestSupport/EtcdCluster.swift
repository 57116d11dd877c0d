import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A real etcd cluster (Debian's etcd-server, /usr/bin/etcd) on 127.0.0.1, for the tests
/// of the etcd client and of what is built on it. Members are numbered from 0; each keeps
/// its ports and its data directory across kills and restarts, as a real member would.
///
/// Members are tied to the test process (`TestScratch.spawn(diesWithTests:)`): even a
/// crashed or killed test run leaves none behind. Their data directories (each member
/// pre-allocates ~120 MB of write-ahead log) are deleted by `stop()`, and those of test
/// processes that are gone are deleted by the next `start`.
///
/// With `tls: true` the members serve their client URLs (https://127.0.0.1:PORT) in TLS
/// only and require a client certificate signed by the cluster's CA
/// (`--client-cert-auth`); their peers still speak plain HTTP to each other. The cluster
/// then probes its members (health, status, a compaction) with curl(1) and the client
/// certificate of `tls`.
package final class EtcdCluster: @unchecked Sendable {
    package static let executable = "/usr/bin/etcd"
    /// What `start` waits for at most: etcd 3.4 answers healthy ~1.1 s after its launch
    /// here, and a restarted member rejoins in 0.1–1 s; the rest is for a busy machine.
    package static let healthTimeout: Double = 15

    /// The members' client URLs, "http://127.0.0.1:PORT" (https:// with TLS).
    package let endpoints: [String]
    package let clientPorts: [Int]
    /// The certificates of a cluster started with `tls: true`.
    package let tls: TLS?
    private let peerPorts: [Int]
    private let token: String
    private let scratch: TestScratch
    private let lock = NSLock()
    /// The running process of each member, nil once killed.
    private var members: [Child?]
    /// What the last curl probe that failed wrote (TLS only), for a timed-out wait's message.
    private var lastProbeFailure = ""

    /// What a cluster started with `tls: true` serves with and trusts, made with openssl in
    /// its directory (so they last as long as the cluster, whichever test made it).
    package struct TLS: Sendable {
        /// Makes more certificates (of the cluster's CA, or of other CAs) that last as
        /// long as the cluster.
        package var certificates: TestCertificates
        /// The members' certificate; also usable as a client's, which etcd 3.4's gateway
        /// needs: it dials its own member's client URL with this certificate.
        package var member: TestCertificates.Leaf
        /// A client certificate of the cluster's CA: what the cluster's probes present, and
        /// what a test's client (or monitor) may present.
        package var client: TestCertificates.Leaf
        /// curl(1), which the probes run.
        fileprivate var curl: String

        /// The CA that signed the members' certificates and the client certificates they
        /// accept (`--trusted-ca-file`).
        package var ca: String { certificates.ca.certificate }

        fileprivate static func make(in scratch: TestScratch) async throws -> TLS {
            guard let curl = Binaries.tool("curl") else {
                throw XCTSkip("curl is not installed (Debian package curl; scripts/lib/ensure-test-deps)")
            }
            let certificates = try await TestCertificates.make(in: scratch)
            return TLS(
                certificates: certificates, member: try await certificates.leaf("etcd-member"),
                client: try await certificates.leaf("etcd-client"), curl: curl)
        }
    }

    private init(clientPorts: [Int], peerPorts: [Int], token: String, scratch: TestScratch, tls: TLS?) {
        self.clientPorts = clientPorts
        self.peerPorts = peerPorts
        self.token = token
        self.scratch = scratch
        self.tls = tls
        endpoints = clientPorts.map { "\(tls == nil ? "http" : "https")://127.0.0.1:\($0)" }
        members = Array(repeating: nil, count: clientPorts.count)
    }

    /// Launches `members` members and waits until every one answers healthy. With `tls`,
    /// first makes the certificates (skips the test when openssl or curl is missing).
    package static func start(members count: Int = 3, tls: Bool = false) async throws -> EtcdCluster {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TestSetupError(
                "etcd is not installed (no \(executable)): apt-get install etcd-server, or run .ci/run")
        }
        removeDataOfGoneTestProcesses()
        var taken = Set<Int>()
        var clientPorts: [Int] = []
        var peerPorts: [Int] = []
        for _ in 0..<count {
            // Below the ephemeral range: a killed member restarts on the same ports.
            let client = try Loopback.freePortBelowEphemeralRange(avoiding: taken)
            taken.insert(client)
            let peer = try Loopback.freePortBelowEphemeralRange(avoiding: taken)
            taken.insert(peer)
            clientPorts.append(client)
            peerPorts.append(peer)
        }
        let scratch = try TestScratch(prefix: "\(dataPrefix)\(getpid())")
        // Members of another cluster that found one of these ports would otherwise join.
        let token = "kv-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let cluster: EtcdCluster
        do {
            cluster = EtcdCluster(
                clientPorts: clientPorts, peerPorts: peerPorts, token: token, scratch: scratch,
                tls: tls ? try await TLS.make(in: scratch) : nil)
        } catch {
            try? FileManager.default.removeItem(atPath: scratch.directory)
            throw error
        }
        do {
            for member in 0..<count { try cluster.launch(member) }
            try await cluster.waitUntilHealthy(Array(0..<count))
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    // MARK: Faults

    /// SIGKILLs member `member` and reaps it.
    package func kill(_ member: Int) async {
        guard let child = lock.withLock({ members[member] }) else { return }
        await child.killAndReap()
        lock.withLock { members[member] = nil }
    }

    /// Starts member `member` again with its command line and data (killing it first if it
    /// still runs), and waits until it answers healthy (it has rejoined a quorum).
    package func restart(_ member: Int) async throws {
        await kill(member)
        try launch(member)
        try await waitUntilHealthy([member])
    }

    /// SIGSTOPs member `member`: its sockets stay open and accept connections in the
    /// kernel, but it answers nothing and stops taking part in elections.
    package func pause(_ member: Int) async throws {
        guard let child = lock.withLock({ members[member] }) else { return }
        child.signal(SIGSTOP)
        try await waitUntil("etcd member \(member) is stopped", timeout: 5) { child.procState == "T" }
    }

    /// SIGCONTs member `member`.
    package func resume(_ member: Int) {
        lock.withLock { members[member] }?.signal(SIGCONT)
    }

    /// Undoes every fault: resumes all members, restarts the killed ones, and waits until
    /// every member answers healthy. What a test sharing the cluster starts with.
    package func heal() async throws {
        for member in clientPorts.indices {
            if let child = lock.withLock({ members[member] }), child.isRunning {
                child.signal(SIGCONT)
            } else {
                lock.withLock { members[member] = nil }
                try launch(member)
            }
        }
        try await waitUntilHealthy(Array(clientPorts.indices))
    }

    /// Kills every member, waits for them (bounded), and deletes their data. Synchronous,
    /// so that a test class's `tearDown()` can call it.
    package func stop() {
        let children = lock.withLock { () -> [Child] in
            defer { members = members.map { _ in nil } }
            return members.compactMap { $0 }
        }
        for child in children {
            child.signal(SIGKILL)
            child.signal(SIGCONT)
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while children.contains(where: \.isRunning), ContinuousClock.now < deadline {
            usleep(10_000)
        }
        try? FileManager.default.removeItem(atPath: scratch.directory)
    }

    // MARK: Looking at members

    /// Whether member `member` answers GET /health with "true": it runs, is not stopped,
    /// and has a leader.
    package func isHealthy(_ member: Int) -> Bool {
        guard let answer = request(member, path: "/health") else { return false }
        return answer.status == 200 && answer.body.contains("\"health\":\"true\"")
    }

    /// POSTs `json` to a gateway path of member `member` (a compaction, say), bypassing
    /// the client under test.
    package func post(_ path: String, json: String, member: Int = 0, timeout: Double = 5) -> LoopbackHTTP.Answer? {
        request(member, method: "POST", path: path, body: json, timeout: timeout)
    }

    /// One request to member `member`'s client URL: on a socket of its own in plain mode,
    /// with curl in TLS. Nil when no whole answer came within `timeout` seconds.
    private func request(
        _ member: Int, method: String = "GET", path: String, body: String = "", timeout: Double = 1
    ) -> LoopbackHTTP.Answer? {
        guard let tls else {
            return LoopbackHTTP.request(
                port: clientPorts[member], method: method, path: path, body: body, timeout: timeout)
        }
        var arguments = [
            "--silent", "--show-error", "--max-time", "\(timeout)",
            "--cacert", tls.ca, "--cert", tls.client.certificate, "--key", tls.client.privateKey,
            // The status after the body, on a line of its own.
            "--write-out", "\n%{http_code}",
        ]
        if method == "POST" {
            arguments += ["--request", "POST", "--header", "Content-Type: application/json", "--data-binary", body]
        }
        arguments.append("\(endpoints[member])\(path)")
        guard let child = try? scratch.spawn("curl-m\(member)", tls.curl, arguments) else { return nil }
        defer {
            try? FileManager.default.removeItem(atPath: child.stdoutPath)
            try? FileManager.default.removeItem(atPath: child.stderrPath)
        }
        // curl ends itself at --max-time; this bound is for a curl that hangs anyway.
        let deadline = ContinuousClock.now + .seconds(timeout + 2)
        while child.isRunning {
            guard ContinuousClock.now < deadline else {
                child.signal(SIGKILL)
                while child.isRunning { usleep(1_000) }
                return nil
            }
            usleep(1_000)
        }
        let output = child.stdout
        guard child.exitCode == 0, let newline = output.lastIndex(of: "\n"),
            let status = Int(output[output.index(after: newline)...]), status != 0
        else {
            let failure = "curl \(path) exited \(child.shellStatus): \(child.stderr.suffix(300))"
            lock.withLock { lastProbeFailure = failure }
            return nil
        }
        return LoopbackHTTP.Answer(status: status, body: String(output[..<newline]))
    }

    /// The member that is etcd's (Raft) leader now, as the members' status answers say.
    package func leader() -> Int? {
        for member in clientPorts.indices {
            guard let answer = post("/v3/maintenance/status", json: "{}", member: member, timeout: 1),
                answer.status == 200,
                let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
                let header = object["header"] as? [String: Any],
                let id = header["member_id"] as? String, let leader = object["leader"] as? String
            else { continue }
            if id == leader { return member }
        }
        return nil
    }

    /// The last lines member `member` wrote to stderr (errors only, by `--log-level`).
    package func log(_ member: Int) -> String {
        lock.withLock { members[member] }?.stderr.suffix(2000).description ?? "(not running)"
    }

    // MARK: Launching

    private static let dataPrefix = "kv-etcd-"

    private func arguments(_ member: Int) -> [String] {
        let cluster = peerPorts.indices.map { "m\($0)=http://127.0.0.1:\(peerPorts[$0])" }.joined(separator: ",")
        return [
            "--name", "m\(member)", "--data-dir", scratch.path("m\(member).etcd"),
            "--listen-client-urls", endpoints[member], "--advertise-client-urls", endpoints[member],
            "--listen-peer-urls", "http://127.0.0.1:\(peerPorts[member])",
            "--initial-advertise-peer-urls", "http://127.0.0.1:\(peerPorts[member])",
            "--initial-cluster", cluster, "--initial-cluster-token", token, "--initial-cluster-state", "new",
            "--logger", "zap", "--log-level", "error",
        ]
            + (tls.map {
                [
                    "--cert-file", $0.member.certificate, "--key-file", $0.member.privateKey,
                    "--trusted-ca-file", $0.ca, "--client-cert-auth",
                ]
            } ?? [])
    }

    private func launch(_ member: Int) throws {
        let child = try scratch.spawn("etcd-m\(member)", Self.executable, arguments(member), diesWithTests: true)
        lock.withLock { members[member] = child }
    }

    private func waitUntilHealthy(_ which: [Int]) async throws {
        try await waitUntil(
            "etcd members \(which) answer healthy", timeout: Self.healthTimeout,
            detail: { self.describe(which) }
        ) {
            which.allSatisfy { isHealthy($0) }
        }
    }

    private func describe(_ which: [Int]) -> String {
        which.map { member in
            let child = lock.withLock { members[member] }
            let state = child.map { $0.isRunning ? "running" : "exited \($0.shellStatus)" } ?? "killed"
            return "m\(member) \(state), healthy: \(isHealthy(member)); \(log(member))"
        }.joined(separator: "\n") + (tls == nil ? "" : "\nlast failed probe: \(lock.withLock { lastProbeFailure })")
    }

    /// Deletes the data directories left by test processes that no longer run (a run that
    /// crashed, or was killed, before its `stop()`).
    private static func removeDataOfGoneTestProcesses() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/tmp") else { return }
        for name in names where name.hasPrefix(dataPrefix) {
            let fields = name.dropFirst(dataPrefix.count).split(separator: "-")
            guard let pid = fields.first.flatMap({ pid_t($0) }), pid > 0 else { continue }
            if Glibc.kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: "/tmp/\(name)")
            }
        }
    }
}
