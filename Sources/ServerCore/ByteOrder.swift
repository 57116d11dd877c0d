import KVProtocol

/// Byte-wise (memcmp) order of keys, as etcd and Redis's sorted commands compare.
enum ByteOrder {
    static func less(_ a: Bytes, _ b: Bytes) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { less(x, $0) } }
    }

    /// Eight bytes at a time, in Swift rather than through memcmp: keys are short, and
    /// with no opaque call in the comparison the compiler can read a key in place
    /// instead of retaining and releasing it at every step of a binary search.
    @inline(__always)
    static func less(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Bool {
        compare(x, y, from: 0).less
    }

    /// Compares `x` with `y` from byte `start` on, the bytes before it being equal in
    /// both: whether `x` is below `y`, and how many leading bytes they share. A binary
    /// search passes the bytes the key it looks for shares with both its bounds, so keys
    /// with a common prefix (`user:`, `tenant:acme:`) are not compared over it each step.
    @inline(__always)
    static func compare(
        _ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer, from start: Int
    ) -> (less: Bool, shared: Int) {
        let common = min(x.count, y.count)
        var at = start
        while at + 8 <= common {
            let p = x.loadUnaligned(fromByteOffset: at, as: UInt64.self).bigEndian
            let q = y.loadUnaligned(fromByteOffset: at, as: UInt64.self).bigEndian
            if p != q { return (p < q, at + (p ^ q).leadingZeroBitCount / 8) }
            at += 8
        }
        while at < common {
            if x[at] != y[at] { return (x[at] < y[at], at) }
            at += 1
        }
        return (x.count < y.count, common)
    }

    /// Whether the two keys hold the same bytes, eight at a time (keys are short: a
    /// call to memcmp would cost more than the comparison).
    @inline(__always)
    static func equal(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Bool {
        guard x.count == y.count else { return false }
        let count = x.count
        var at = 0
        while at + 8 <= count {
            guard
                x.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                    == y.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            else { return false }
            at += 8
        }
        while at < count {
            guard x[at] == y[at] else { return false }
            at += 1
        }
        return true
    }

    /// The least key above every key that starts with `prefix`, or nil when there is
    /// none (the prefix is all 0xff bytes, or empty).
    static func successor(ofPrefix prefix: Bytes) -> Bytes? {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return nil
    }
}
