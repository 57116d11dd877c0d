import KVProtocol

/// The store's keys in byte order, for ranges and scans: a list of sorted chunks, each
/// at most `maxChunk` keys, so an insert or a removal moves at most a chunk's worth of
/// references. The keys share their storage with the store's table (arrays are
/// copy-on-write), so the index costs about a reference per key (docs/PERFORMANCE.md).
struct SortedKeys: Sendable {
    private var chunks: [[Bytes]] = []
    /// Each chunk's last key, in the chunks' order: the search for a key's chunk reads
    /// this flat array instead of reaching into every chunk it passes (a nested access
    /// retained and released the inner array at each step, most of a SET's index cost).
    private var lastKeys: [Bytes] = []
    private(set) var count = 0

    static let maxChunk = 512

    /// A position: chunk, then index in it.
    struct Position: Equatable {
        var chunk: Int
        var index: Int
    }

    /// Where `key` is or would go.
    private func position(of key: Bytes) -> Position {
        key.withUnsafeBytes { probe in
            // The first chunk whose last key is not below `key`.
            let chunk = lastKeys.withUnsafeBufferPointer { Self.firstNotBelow(probe, in: $0) }
            guard chunk < chunks.count else {
                return chunks.isEmpty
                    ? Position(chunk: 0, index: 0)
                    : Position(chunk: chunks.count - 1, index: chunks[chunks.count - 1].count)
            }
            let index = chunks.withUnsafeBufferPointer { all in
                all[chunk].withUnsafeBufferPointer { Self.firstNotBelow(probe, in: $0) }
            }
            return Position(chunk: chunk, index: index)
        }
    }

    /// The index of the first of `keys` (sorted) that is not below `probe`.
    ///
    /// Every key between the bounds shares with `probe` at least the bytes it shares with
    /// both bounds (the keys are sorted), so each comparison starts past them.
    static func firstNotBelow(_ probe: UnsafeRawBufferPointer, in keys: UnsafeBufferPointer<Bytes>) -> Int {
        var low = 0
        var high = keys.count
        // Bytes `probe` shares with keys[low - 1] and with keys[high]; 0 past either end.
        var sharedBelow = 0
        var sharedAbove = 0
        while low < high {
            let mid = (low + high) / 2
            let (below, shared) = keys[mid].withUnsafeBytes {
                ByteOrder.compare($0, probe, from: min(sharedBelow, sharedAbove))
            }
            if below {
                low = mid + 1
                sharedBelow = shared
            } else {
                high = mid
                sharedAbove = shared
            }
        }
        return low
    }

    /// Adds a key the index does not hold.
    mutating func insert(_ key: Bytes) {
        count += 1
        guard !chunks.isEmpty else {
            chunks.append([key])
            lastKeys.append(key)
            return
        }
        let at = position(of: key)
        let last = chunks.count - 1
        if at.chunk == last, at.index == chunks[last].count, chunks[last].count == Self.maxChunk {
            // After every key, the last chunk full (a snapshot's keys, or a transfer's,
            // come in order): a new chunk, so that those fill up instead of halving.
            chunks.append([key])
            lastKeys.append(key)
            return
        }
        Self.insert(key, at: at.index, in: &chunks[at.chunk])
        if at.index == chunks[at.chunk].count - 1 { lastKeys[at.chunk] = key }
        if chunks[at.chunk].count > Self.maxChunk {
            let upper = Array(chunks[at.chunk][(Self.maxChunk / 2)...])
            chunks[at.chunk].removeLast(upper.count)
            chunks.insert(upper, at: at.chunk + 1)
            lastKeys[at.chunk] = chunks[at.chunk][chunks[at.chunk].count - 1]
            lastKeys.insert(upper[upper.count - 1], at: at.chunk + 1)
        }
    }

    /// Removes a key the index holds.
    mutating func remove(_ key: Bytes) {
        guard !chunks.isEmpty else { return }
        let at = position(of: key)
        guard at.index < chunks[at.chunk].count, chunks[at.chunk][at.index] == key else { return }
        count -= 1
        Self.remove(at: at.index, from: &chunks[at.chunk])
        if chunks[at.chunk].isEmpty {
            chunks.remove(at: at.chunk)
            lastKeys.remove(at: at.chunk)
        } else if at.index == chunks[at.chunk].count {
            lastKeys[at.chunk] = chunks[at.chunk][at.index - 1]
        }
    }

    /// `Array.insert(_:at:)`, with the keys after `index` moved by one memmove: the array's
    /// own goes through `replaceSubrange`'s general path, about 240 instructions of a SET
    /// that adds a key (scripts/bench --callgrind).
    private static func insert(_ key: Bytes, at index: Int, in chunk: inout [Bytes]) {
        chunk.append(key)
        let last = chunk.count - 1
        guard index < last else { return }
        chunk.withUnsafeMutableBufferPointer { keys in
            let base = keys.baseAddress!
            let moving = (base + last).move()
            (base + index + 1).moveInitialize(from: base + index, count: last - index)
            (base + index).initialize(to: moving)
        }
    }

    /// `Array.remove(at:)` the same way.
    private static func remove(at index: Int, from chunk: inout [Bytes]) {
        let last = chunk.count - 1
        if index < last {
            chunk.withUnsafeMutableBufferPointer { keys in
                let base = keys.baseAddress!
                let removed = (base + index).move()
                (base + index).moveInitialize(from: base + index + 1, count: last - index)
                (base + last).initialize(to: removed)
            }
        }
        chunk.removeLast()
    }

    mutating func removeAll() {
        chunks = []
        lastKeys = []
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

    /// How many chunks hold the keys (tests: keys in order fill theirs).
    var chunkCount: Int { chunks.count }

    // A walk over every key in order, one position at a time (a state transfer's cursor).
    // A position is valid only while the index does not change; `endPosition` is past the
    // last chunk.

    var startPosition: Position { chunks.isEmpty ? endPosition : Position(chunk: 0, index: 0) }
    var endPosition: Position { Position(chunk: chunks.count, index: 0) }

    func position(after position: Position) -> Position {
        position.index + 1 < chunks[position.chunk].count
            ? Position(chunk: position.chunk, index: position.index + 1)
            : Position(chunk: position.chunk + 1, index: 0)
    }

    subscript(position: Position) -> Bytes { chunks[position.chunk][position.index] }
}
