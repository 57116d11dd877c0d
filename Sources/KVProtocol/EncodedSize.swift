/// About how many bytes an element takes in an encoded forward batch or transfer chunk:
/// what the primary counts against a batch's or a chunk's byte budget, and what the codec
/// reserves before encoding one. One definition, so the two cannot drift apart.
extension ForwardedUpdate {
    public var encodedSize: Int { 40 + key.count + value.count + reply.value.count }
}

extension DuplicateEntry {
    public var encodedSize: Int { 24 + reply.value.count }
}

extension TransferChunk {
    public static func encodedSize(key: Bytes, value: Bytes) -> Int { 8 + key.count + value.count }
}
