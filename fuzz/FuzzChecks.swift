// What every fuzz input must satisfy. Compiled by scripts/fuzz into one module with
// Sources/KVProtocol/*.swift (no `import KVProtocol`); a violated property traps, which
// is how libFuzzer learns of it and saves the input.

/// A frame body either decodes to a frame that survives its own round trip and fits in a
/// frame, or is refused with one of the codes a decoder gives. Returns whether it decoded.
@discardableResult
func checkFrameBody(_ body: [UInt8]) -> Bool {
    let frame: Frame
    do {
        frame = try MessageCodec.decode(body)
    } catch {
        guard error.code == .malformedFrame || error.code == .unknownMessageType, !error.detail.isEmpty else {
            fatalError("refused with an unexpected error: \(error)")
        }
        return false
    }
    let encoded = MessageCodec.encode(frame)
    guard encoded.count <= Limits.maxFrameSize else {
        fatalError("\(frame.message.typeCode) re-encodes to \(encoded.count) bytes, over the frame limit")
    }
    guard let again = try? MessageCodec.decode(encoded), again == frame else {
        fatalError("\(frame.message.typeCode) does not survive its round trip")
    }
    return true
}

/// A connection's byte stream, split as the transport's `FrameDecoder` splits it: a
/// length over the limit ends the connection before any of its body is read, and so does
/// the first frame that does not decode.
func checkFrameStream(_ stream: [UInt8]) {
    var offset = 0
    while stream.count - offset >= FrameLength.prefixSize {
        let announced = stream[offset..<offset + FrameLength.prefixSize].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let length: Int
        do {
            length = try FrameLength.bodyLength(announced: announced)
        } catch {
            guard error.code == .frameTooLarge, announced > Limits.maxFrameSize else {
                fatalError("length \(announced) refused with \(error)")
            }
            return
        }
        offset += FrameLength.prefixSize
        guard stream.count - offset >= length else { return }
        let body = Array(stream[offset..<offset + length])
        offset += length
        guard checkFrameBody(body) else { return }
    }
}
