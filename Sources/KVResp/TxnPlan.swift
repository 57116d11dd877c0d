import KVProtocol

/// A Redis data command compiled: the transaction that carries it out and how its reply
/// is made from what the transaction's operations returned. Alone, the plan is sent as
/// one transaction; inside MULTI, its operations join the EXEC's transaction (as one
/// nested transaction when it has compares of its own) and its reply is made from its
/// slice of the results.
struct TxnPlan: Sendable {
    var compares: [Compare]
    var success: [TxnOp]
    var failure: [TxnOp]
    /// Turns the plan's results into the command's reply, or into the next plan to run
    /// (KEYS walks the key space in several ranges).
    var reply: @Sendable (TxnPlanResults) -> TxnPlanReply

    init(
        compares: [Compare] = [], success: [TxnOp], failure: [TxnOp] = [],
        reply: @escaping @Sendable (TxnPlanResults) -> TxnPlanReply
    ) {
        self.compares = compares
        self.success = success
        self.failure = failure
        self.reply = reply
    }

    /// A plan whose reply is always a value.
    init(
        compares: [Compare] = [], success: [TxnOp], failure: [TxnOp] = [],
        answer: @escaping @Sendable (TxnPlanResults) -> RESPValue
    ) {
        self.init(compares: compares, success: success, failure: failure) { .value(answer($0)) }
    }

    var txn: Txn { Txn(compares: compares, success: success, failure: failure) }

    /// Whether the plan's operations can join another transaction's as they are: with
    /// no compares, only its success branch can ever run.
    var isUnconditional: Bool { compares.isEmpty }
}

/// What a plan's reply is made of.
struct TxnPlanResults: Sendable {
    /// Whether the plan's compares held (its success operations ran).
    var succeeded: Bool
    /// One result per operation of the branch that ran.
    var results: ArraySlice<TxnOpResult>
    /// The primary's clock when it ran the transaction (Unix milliseconds).
    var now: UInt64

    init(succeeded: Bool, results: ArraySlice<TxnOpResult>, now: UInt64) {
        self.succeeded = succeeded
        self.results = results
        self.now = now
    }

    init(_ outcome: TxnOutcome) {
        self.init(succeeded: outcome.succeeded, results: outcome.results[...], now: outcome.now)
    }

    /// The result of the plan's `index`th operation; nil if the branch that ran has none.
    subscript(index: Int) -> TxnOpResult? {
        let position = results.startIndex + index
        return position < results.endIndex ? results[position] : nil
    }

    /// The key read by operation `index` (a get, a delete, a put returning the previous
    /// value); nil when missing.
    func stored(_ index: Int) -> StoredValue? {
        if case .value(let stored) = self[index] { return stored }
        return nil
    }

    /// Operation `index`'s integer, or its error, as the reply.
    func integerReply(_ index: Int) -> RESPValue {
        switch self[index] {
        case .integer(let number): .integer(number)
        case .error(let error): RedisError.failed(error)
        default: Self.unexpected
        }
    }

    /// A result of a shape no operation of the plan returns: a bug, said as such.
    static let unexpected = RESPValue.error("ERR unexpected transaction result")
}

enum TxnPlanReply: Sendable {
    case value(RESPValue)
    /// Run this plan next; its reply is the command's.
    case more(TxnPlan)
}
