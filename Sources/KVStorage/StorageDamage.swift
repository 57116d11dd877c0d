/// Why a data directory cannot be recovered as it is: which file, where in it, and what
/// is wrong. Recovery never starts over on damage: the damaged bytes may hold writes that
/// were acknowledged.
public struct StorageDamage: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var offset: Int
    public var reason: String

    public init(file: String, offset: Int, reason: String) {
        self.file = file
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(file), byte \(offset): \(reason)" }
}
