/// Keys and values are arbitrary bytes: the service never interprets them, except
/// PutHash, which hashes their concatenation.
public typealias Bytes = [UInt8]

extension Array where Element == UInt8 {
    /// The UTF-8 bytes of `string`.
    @inlinable
    public init(utf8 string: String) {
        self = Array(string.utf8)
    }

    /// The bytes decoded as UTF-8, with invalid sequences repaired (for display only).
    public var utf8String: String {
        String(decoding: self, as: UTF8.self)
    }
}
