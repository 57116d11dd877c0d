/// The data operations a client can ask for.
public enum Operation: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case get = 1
    case put = 2
    case putHash = 3
    case delete = 4
    /// A transaction (`ClientRequest.txn`); every data operation beyond the four above.
    case txn = 5

    public var description: String {
        switch self {
        case .get: "get"
        case .put: "put"
        case .putHash: "puthash"
        case .delete: "delete"
        case .txn: "txn"
        }
    }
}

/// One data request. `clientID` and `seq` make updates at-most-once: a server that has
/// already applied (clientID, seq) answers a retry with the stored reply.
public struct ClientRequest: Equatable, Sendable {
    public var op: Operation
    public var clientID: UInt64
    public var seq: UInt64
    public var key: Bytes
    public var value: Bytes
    /// For `.txn`; nil for the others.
    public var txn: Txn? {
        get { txnStorage.first }
        set { txnStorage = newValue.map { [$0] } ?? [] }
    }
    /// In an array, empty for the other operations, so that a request stays as small as
    /// before on the hot path.
    private var txnStorage: [Txn] = []

    public init(op: Operation, clientID: UInt64, seq: UInt64, key: Bytes, value: Bytes = []) {
        self.op = op
        self.clientID = clientID
        self.seq = seq
        self.key = key
        self.value = value
        if op == .txn { txn = Txn(success: []) }
    }

    public init(txn: Txn, clientID: UInt64, seq: UInt64) {
        self.init(op: .txn, clientID: clientID, seq: seq, key: [])
        self.txn = txn
    }

    /// Whether it may change the store (and so needs an at-most-once entry).
    public var mayWrite: Bool {
        switch op {
        case .get: false
        case .put, .putHash, .delete: true
        case .txn: txn.map { t in (t.success + t.failure).contains { $0.mayWrite } } ?? false
        }
    }
}
