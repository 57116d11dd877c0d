import KVProtocol

/// A command that reads or writes the store: a plain request when it is a GET, a SET
/// without options or a DEL of one key (the server's fast path, and the bulk of a
/// benchmark's load), a transaction otherwise.
enum DataCommand: Sendable {
    case plain(PlainCommand)
    case txn(TxnPlan)

    /// The command as a transaction: how it runs inside MULTI.
    var plan: TxnPlan {
        switch self {
        case .plain(let plain): plain.plan
        case .txn(let plan): plan
        }
    }
}

/// A data command that one plain client request carries out.
enum PlainCommand: Equatable, Sendable {
    case get(Bytes)
    case set(Bytes, Bytes)
    case delete(Bytes)

    var operation: Operation {
        switch self {
        case .get: .get
        case .set: .put
        case .delete: .delete
        }
    }

    var key: Bytes {
        switch self {
        case .get(let key), .set(let key, _), .delete(let key): key
        }
    }

    var value: Bytes {
        if case .set(_, let value) = self { return value }
        return []
    }

    /// The reply to an `ok` or `noKey` answer from the server to the plain command of
    /// `operation`.
    static func answer(_ operation: Operation, _ reply: ClientReply) -> RESPValue {
        switch operation {
        case .get: reply.status == .ok ? .bulkString(reply.value) : .null
        case .delete: .integer(reply.status == .ok ? 1 : 0)
        default: .ok
        }
    }

    /// The same command as a transaction, with the same reply.
    var plan: TxnPlan {
        switch self {
        case .get(let key):
            TxnPlan(success: [.get(key)]) { .bulkOrNull($0.stored(0)?.value) }
        case .set(let key, let value):
            TxnPlan(success: [.put(key, value: value, expiry: .never, returnPrevious: false)]) { _ in .ok }
        case .delete(let key):
            KeyspaceCommands.deleting([key])
        }
    }
}
