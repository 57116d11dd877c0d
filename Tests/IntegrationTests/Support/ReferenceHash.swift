/// 32-bit FNV-1a, written here independently of KVProtocol.PutHash, so the PutHash chain
/// is checked against the original's definition and not against the code under test.
enum ReferenceHash {
    static func fnv1a32(_ text: String) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in text.utf8 {
            hash = (hash ^ UInt32(byte)) &* 0x0100_0193
        }
        return hash
    }

    /// The value PutHash stores: decimal FNV-1a-32 of previous + argument.
    static func putHash(previous: String, argument: String) -> String {
        String(fnv1a32(previous + argument))
    }
}
