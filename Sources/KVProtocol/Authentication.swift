/// Sizes of the challenge-response exchange that opens a connection when a shared
/// secret is configured (docs/PROTOCOL.md, "Authentication"). The proofs are
/// HMAC-SHA256, computed in the transport.
public enum Authentication {
    /// Random bytes each side contributes.
    public static let nonceSize = 32
    /// An HMAC-SHA256.
    public static let proofSize = 32
}
