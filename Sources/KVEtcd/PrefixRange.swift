/// The `range_end` that makes a range cover every key starting with `prefix`: the
/// smallest byte string greater than all of them. That is the prefix with its last byte
/// incremented, after dropping trailing 0xff bytes (which cannot be incremented); a prefix
/// of 0xff bytes only, or an empty one, has no such bound, and etcd reads the range end
/// "\0" as "every key from `key` on".
func prefixRangeEnd(_ prefix: [UInt8]) -> [UInt8] {
    var end = prefix
    while let last = end.last {
        if last < 0xff {
            end[end.count - 1] = last + 1
            return end
        }
        end.removeLast()
    }
    return [0]
}

/// The `key` of a prefix range: etcd reads an empty key as absent, so the empty prefix
/// starts at "\0", the smallest key.
func prefixRangeStart(_ prefix: [UInt8]) -> [UInt8] {
    prefix.isEmpty ? [0] : prefix
}
