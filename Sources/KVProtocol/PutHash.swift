/// PutHash as the original assignment defines it: the new value is the decimal string of
/// the 32-bit FNV-1a hash of `previous + argument` (a missing key counts as empty).
public enum PutHash {
    /// 32-bit FNV-1a, as Go's `hash/fnv.New32a`.
    public static func fnv1a32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var hash: UInt32 = 2_166_136_261
        for byte in bytes {
            hash ^= UInt32(byte)
            hash &*= 16_777_619
        }
        return hash
    }

    /// The value stored by PutHash(previous, argument).
    public static func newValue(previous: Bytes, argument: Bytes) -> Bytes {
        var hash: UInt32 = 2_166_136_261
        for byte in previous {
            hash ^= UInt32(byte)
            hash &*= 16_777_619
        }
        for byte in argument {
            hash ^= UInt32(byte)
            hash &*= 16_777_619
        }
        return Bytes(utf8: String(hash))
    }
}
