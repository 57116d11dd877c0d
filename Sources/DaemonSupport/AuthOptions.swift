import ArgumentParser
import KVTransport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The shared-secret flag both daemons take.
public struct AuthOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "File holding the shared secret that servers, the monitor and clients must prove they know.",
            discussion: """
                The packaged units pass /etc/kvservice/secret. Default: $CREDENTIALS_DIRECTORY/secret \
                when systemd passes such a credential. An empty file, or none, turns authentication \
                off (for trusted networks only).
                """))
    public var secretFile: String?

    public init() {}

    /// The file to read, if any: the flag, else the systemd credential.
    public var path: String? {
        if let secretFile { return secretFile }
        guard let directory = getenv("CREDENTIALS_DIRECTORY").map({ String(cString: $0) }) else { return nil }
        return directory + "/secret"
    }

    /// The secret, or nil when authentication is off. Only a credential that systemd did
    /// not pass counts as none: one that exists and cannot be read is an error, so a
    /// misconfiguration never turns authentication off silently.
    public func load() throws -> SharedSecret? {
        guard let path else { return nil }
        do {
            return try SharedSecret.load(path: path)
        } catch .missing where secretFile == nil {
            return nil
        }
    }
}
