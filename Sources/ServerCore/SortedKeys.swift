import KVProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The store's keys in byte order, for ranges and scans: a list of sorted chunks, each
/// at most `maxChunk` keys, so an insert or a removal moves at most a chunk's worth of
/// references. The keys share their storage with the store's dictionary (arrays are
/// copy-on-write), so the index costs about a reference per key (docs/PERFORMANCE.md).
struct SortedKeys: Sendable {
    private var chunks: [[Bytes]] = []
    private(set) var count = 0

    static let maxChunk = 512

    /// A position: chunk, then index in it.
    struct Position: Equatable {
        var chunk: Int
        var index: Int
    }

    /// Where `key` is or would go.
    private func position(of key: Bytes) -> Position {
        // The first chunk whose last key is not below `key`.
        var low = 0
        var high = chunks.count
        while low < high {
            let mid = (low + high) / 2
            if ByteOrder.less(chunks[mid][chunks[mid].count - 1], key) { low = mid + 1 } else { high = mid }
        }
        guard low < chunks.count else {
            return chunks.isEmpty
                ? Position(chunk: 0, index: 0)
                : Position(chunk: chunks.count - 1, index: chunks[chunks.count - 1].count)
        }
        let chunk = chunks[low]
        var lo = 0
        var hi = chunk.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ByteOrder.less(chunk[mid], key) { lo = mid + 1 } else { hi = mid }
        }
        return Position(chunk: low, index: lo)
    }

    /// Adds a key the index does not hold.
    mutating func insert(_ key: Bytes) {
        count += 1
        guard !chunks.isEmpty else {
            chunks.append([key])
            return
        }
        let at = position(of: key)
        chunks[at.chunk].insert(key, at: at.index)
        if chunks[at.chunk].count > Self.maxChunk {
            let upper = Array(chunks[at.chunk][(Self.maxChunk / 2)...])
            chunks[at.chunk].removeLast(upper.count)
            chunks.insert(upper, at: at.chunk + 1)
        }
    }

    /// Removes a key the index holds.
    mutating func remove(_ key: Bytes) {
        guard !chunks.isEmpty else { return }
        let at = position(of: key)
        guard at.index < chunks[at.chunk].count, chunks[at.chunk][at.index] == key else { return }
        count -= 1
        chunks[at.chunk].remove(at: at.index)
        if chunks[at.chunk].isEmpty { chunks.remove(at: at.chunk) }
    }

    mutating func removeAll() {
        chunks = []
        count = 0
    }

    /// Calls `body` with the keys from the first one not below `start`, in order, until
    /// it returns false.
    func forEach(from start: Bytes, _ body: (Bytes) -> Bool) {
        guard !chunks.isEmpty else { return }
        var at = position(of: start)
        while at.chunk < chunks.count {
            let chunk = chunks[at.chunk]
            while at.index < chunk.count {
                guard body(chunk[at.index]) else { return }
                at.index += 1
            }
            at = Position(chunk: at.chunk + 1, index: 0)
        }
    }

    var all: [Bytes] { chunks.flatMap { $0 } }
}

/// Byte-wise (memcmp) order of keys, as etcd and Redis's sorted commands compare.
enum ByteOrder {
    static func less(_ a: Bytes, _ b: Bytes) -> Bool {
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                let common = min(x.count, y.count)
                let order = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)
                return order != 0 ? order < 0 : x.count < y.count
            }
        }
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
