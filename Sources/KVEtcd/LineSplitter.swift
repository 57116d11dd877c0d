import NIOCore

/// Cuts a streaming answer's body into its lines (one JSON message per line), whatever
/// way the body parts split them: a line may span parts, a part may hold many lines.
struct LineSplitter {
    /// A line longer than this is refused rather than buffered for ever. etcd bounds a
    /// message by its gRPC limits (a few MB); a watch batch of many large values can come
    /// close, a broken or hostile peer could send without end.
    static let defaultLimit = 64 * 1024 * 1024

    struct LineTooLong: Error {}

    private var pending: ByteBuffer?
    /// How many of `pending`'s readable bytes are known to hold no "\n": a long line that
    /// arrives in many parts is scanned once, not once per part.
    private var scanned = 0
    private let limit: Int

    init(limit: Int = LineSplitter.defaultLimit) {
        self.limit = limit
    }

    /// Adds a body part. Throws when the unfinished line grows past the limit.
    mutating func append(_ part: ByteBuffer) throws {
        if pending == nil {
            pending = part
        } else {
            // The lines read are gone: drop their bytes before the buffer grows (the line
            // slices handed out were used and released by then, so this copies only the
            // unfinished line).
            if pending!.readerIndex > 4096 { pending!.discardReadBytes() }
            pending!.writeImmutableBuffer(part)
        }
        if scanned > limit { throw LineTooLong() }
    }

    /// The next complete line, without its "\n", or nil until more of the body arrives.
    mutating func nextLine() -> ByteBuffer? {
        guard let readable = pending?.readableBytesView else { return nil }
        guard let newline = readable.dropFirst(scanned).firstIndex(of: UInt8(ascii: "\n")) else {
            scanned = readable.count
            return nil
        }
        scanned = 0
        let line = pending!.readSlice(length: newline - readable.startIndex)!
        pending!.moveReaderIndex(forwardBy: 1)
        if pending!.readableBytes == 0 { pending = nil }
        return line
    }

    /// What remains once the body has ended: a last line that came without its "\n"
    /// (the gateway writes a stream's final error so), or nil.
    mutating func remainder() -> ByteBuffer? {
        defer {
            pending = nil
            scanned = 0
        }
        guard let rest = pending, rest.readableBytes > 0 else { return nil }
        return rest
    }
}
