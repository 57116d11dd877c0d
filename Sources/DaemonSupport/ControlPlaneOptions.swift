import ArgumentParser
import KVTLS
import KVTransport
import Logging

/// kv-monitor's flags for a control plane of several monitors sharing one view in etcd
/// (docs/DESIGN.md §2.10). Without `--etcd-endpoints` the monitor is the only one and
/// keeps its view in `--state-dir`.
public struct ControlPlaneOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "etcd members to keep the view in, comma-separated (http://HOST:PORT,...); several monitors "
                + "given the same members and --cluster share one view, and one of them leads.",
            valueName: "URL[,URL...]"))
    public var etcdEndpoints: String?

    @Option(help: "Name of this cluster in etcd: its keys live under /kvservice/NAME/ (default: default).")
    public var cluster = "default"

    @Option(
        help:
            "Address servers and clients reach this monitor at (HOST:PORT), stored in etcd while it leads (default: --listen, unless that is a wildcard address).",
        transform: PeerAddress.parse)
    public var advertise: PeerAddress?

    @Option(
        help: ArgumentHelp(
            "Lease of the leading monitor: another takes over this long after it dies "
                + "(whole seconds, at least 2s; default: 3s)."),
        transform: DurationOption.parse)
    public var leaderTTL = DurationOption(.seconds(3))

    @Option(
        help: ArgumentHelp(
            "CA certificates (PEM) that sign the etcd members' certificates, for https:// endpoints.",
            valueName: "file"))
    public var etcdCacert: String?

    @Option(
        help: ArgumentHelp(
            "Client certificate (PEM) to present to etcd members that require one (--client-cert-auth).",
            valueName: "file"))
    public var etcdCert: String?

    @Option(help: ArgumentHelp("The etcd client certificate's private key (PEM).", valueName: "file"))
    public var etcdKey: String?

    public init() {}

    /// TLS to the etcd members, or nil when none is https://.
    public func etcdTLS(logger: Logger) throws(TLSSetupError) -> TLSLayer? {
        guard let etcdCacert else { return nil }
        return try TLSLayer(
            files: TLSFiles(certificate: etcdCert, privateKey: etcdKey, ca: etcdCacert), role: .client,
            logger: logger)
    }

    public func validate() throws {
        let ttl = leaderTTL.amount.nanoseconds
        guard ttl >= 2_000_000_000, ttl % 1_000_000_000 == 0 else {
            throw ValidationError("--leader-ttl must be a whole number of seconds, at least 2s (etcd's shortest lease)")
        }
        guard !cluster.isEmpty, cluster.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") })
        else {
            throw ValidationError("--cluster must be a non-empty name without spaces or slashes")
        }
        if let etcdEndpoints {
            let endpoints = Self.split(etcdEndpoints)
            guard !endpoints.isEmpty else { throw ValidationError("--etcd-endpoints names no endpoint") }
            if etcdCacert == nil, endpoints.contains(where: { $0.lowercased().hasPrefix("https://") }) {
                throw ValidationError(
                    "https:// etcd endpoints need the CA that signs their certificates (--etcd-cacert)")
            }
        }
    }

    /// The etcd endpoints, nil for a sole monitor.
    public var endpoints: [String]? {
        etcdEndpoints.map(Self.split)
    }

    /// The address to advertise: `--advertise`, else `listen` unless it is a wildcard.
    public func advertisedAddress(listen: PeerAddress) throws -> String {
        if let advertise { return advertise.description }
        guard listen.host != "0.0.0.0", listen.host != "::", !listen.host.isEmpty else {
            throw ValidationError(
                "--advertise is required with --etcd-endpoints when --listen is a wildcard address (\(listen))")
        }
        return listen.description
    }

    static func split(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
