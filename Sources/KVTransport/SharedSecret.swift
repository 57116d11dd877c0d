import Crypto
import KVProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The secret every server, the monitor and trusted clients share. With one configured,
/// each connection opens with a challenge-response in both directions (HMAC-SHA256 over
/// both sides' nonces), so an endpoint that does not know the secret can neither use a
/// listener nor pose as one.
public struct SharedSecret: Sendable {
    let key: SymmetricKey

    /// Fewer bytes than this are refused: a short secret is guessable offline from one
    /// recorded handshake.
    public static let minimumLength = 16

    public init(_ bytes: [UInt8]) throws(SharedSecretError) {
        guard bytes.count >= Self.minimumLength else { throw .tooShort(bytes.count) }
        key = SymmetricKey(data: bytes)
    }

    /// Reads the secret from `path`: its bytes without trailing whitespace. Nil when the
    /// file is empty (authentication off). A file that others may read is refused.
    public static func load(path: String) throws(SharedSecretError) -> SharedSecret? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? .missing(path) : .unreadable(path, errnoText()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path, errnoText()) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .notAFile(path) }
        guard info.st_mode & 0o007 == 0 else { throw .readableByOthers(path) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .unreadable(path, errnoText()) }
            if count == 0 { break }
            bytes += buffer[..<count]
            guard bytes.count <= 65536 else { throw .tooLong(path) }
        }
        while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 {
            bytes.removeLast()
        }
        if bytes.isEmpty { return nil }
        do {
            return try SharedSecret(bytes)
        } catch {
            throw .tooShortInFile(path, bytes.count)
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }

    // MARK: - Proofs

    enum Side: String {
        case connecting = "kvservice/1 connecting side"
        case listening = "kvservice/1 listening side"
    }

    /// What `side` sends to prove it knows the secret. The two sides' proofs differ by
    /// their label, so neither can be reflected back as the other.
    func proof(by side: Side, challenge: [UInt8], nonce: [UInt8]) -> [UInt8] {
        var message = Array(side.rawValue.utf8)
        message += challenge
        message += nonce
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }

    /// Checks a proof in constant time.
    func verify(_ proof: [UInt8], by side: Side, challenge: [UInt8], nonce: [UInt8]) -> Bool {
        var message = Array(side.rawValue.utf8)
        message += challenge
        message += nonce
        return HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: message, using: key)
    }

    /// Whether `password` is the secret itself, compared in constant time (for the Redis
    /// protocol's AUTH, which sends the secret as it is).
    public func matches(password: [UInt8]) -> Bool {
        key.withUnsafeBytes { secret in
            guard secret.count == password.count else { return false }
            var difference: UInt8 = 0
            for index in 0..<secret.count { difference |= secret[index] ^ password[index] }
            return difference == 0
        }
    }

    static func nonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<Authentication.nonceSize).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}

public enum SharedSecretError: Error, Equatable, CustomStringConvertible {
    case tooShort(Int)
    case tooShortInFile(String, Int)
    case tooLong(String)
    case unreadable(String, String)
    case missing(String)
    case notAFile(String)
    case readableByOthers(String)

    public var description: String {
        switch self {
        case .tooShort(let count):
            "the shared secret has \(count) bytes; at least \(SharedSecret.minimumLength) are needed"
        case .tooShortInFile(let path, let count):
            "\(path): the shared secret has \(count) bytes; at least \(SharedSecret.minimumLength) are needed"
        case .tooLong(let path): "\(path): longer than 64 KiB; not a secret"
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .missing(let path): "\(path) does not exist"
        case .notAFile(let path): "\(path) is not a regular file"
        case .readableByOthers(let path): "\(path) may be read by others; make it mode 0640 or stricter"
        }
    }
}
