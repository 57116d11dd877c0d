/// About how many bytes an element takes in an encoded forward batch or transfer chunk:
/// what the primary counts against a batch's or a chunk's byte budget, and what the codec
/// reserves before encoding one. One definition, so the two cannot drift apart.
extension ForwardedUpdate {
    public var encodedSize: Int { 30 + change.encodedSize + reply.encodedSize }
}

extension StoreChange {
    public var encodedSize: Int {
        switch self {
        case .none, .deleteAll: 1
        case .put(let key, let stored): 25 + key.count + stored.value.count
        case .setDeadline(let key, _, _): 21 + key.count
        case .delete(let key): 5 + key.count
        case .several(let changes): 5 + changes.reduce(0) { $0 + $1.encodedSize }
        }
    }
}

extension ClientReply {
    /// Exact for replies without an outcome; an outcome is counted by its values' bytes.
    public var encodedSize: Int { 5 + value.count + (outcome?.approximateSize ?? 0) }
}

extension TxnOutcome {
    var approximateSize: Int {
        21
            + results.reduce(0) { total, result in
                switch result {
                case .value(let stored?): total + 22 + stored.value.count
                case .bytes(let bytes): total + 5 + bytes.count
                case .range(let items, let next):
                    total + 10 + (next?.count ?? 0)
                        + items.reduce(0) { $0 + 22 + $1.key.count + ($1.value?.value.count ?? 0) }
                case .txn(let inner): total + 1 + inner.approximateSize
                default: total + 9
                }
            }
    }
}

extension DuplicateEntry {
    public var encodedSize: Int { 16 + reply.encodedSize }
}

extension TransferChunk {
    public static func encodedSize(key: Bytes, value: Bytes) -> Int { 24 + key.count + value.count }
}
