/// The framing of a connection's byte stream: each frame body is preceded by its length,
/// a big-endian u32 that does not count itself (docs/PROTOCOL.md, "Frames").
///
/// The rule lives here, free of any I/O library, so the transport's decoder and the fuzz
/// targets in `fuzz/` apply the very same check.
public enum FrameLength {
    /// Bytes of the length prefix.
    public static let prefixSize = 4

    /// The body length a prefix announces, refused when it exceeds `maxFrameSize` so the
    /// reader can close the connection before buffering a single byte of the body.
    public static func bodyLength(announced length: UInt32, maxFrameSize: Int = Limits.maxFrameSize)
        throws(ProtocolError) -> Int
    {
        guard Int(length) <= maxFrameSize else {
            throw ProtocolError(.frameTooLarge, "frame of \(length) bytes exceeds the limit of \(maxFrameSize)")
        }
        return Int(length)
    }
}
