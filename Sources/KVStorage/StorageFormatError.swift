/// Damage found decoding a snapshot or a manifest: what is wrong, and at which byte of
/// the file.
public struct StorageFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "byte \(offset): \(reason)" }
}
