import KVProtocol

/// One connection's kvservice client session: a random 64-bit client id and increasing
/// sequence numbers, so the server's at-most-once table treats the connection as one
/// client, exactly like a `KVClient`. Commands of a connection are submitted in the order
/// they arrived, so their sequence numbers reach the server in increasing order.
struct RESPSession {
    let clientID: UInt64
    private var lastSeq: UInt64 = 0

    init() {
        var generator = SystemRandomNumberGenerator()
        clientID = generator.next()
    }

    mutating func request(_ op: Operation, key: Bytes, value: Bytes = []) -> ClientRequest {
        lastSeq += 1
        return ClientRequest(op: op, clientID: clientID, seq: lastSeq, key: key, value: value)
    }

    mutating func request(txn: Txn) -> ClientRequest {
        lastSeq += 1
        return ClientRequest(txn: txn, clientID: clientID, seq: lastSeq)
    }
}
