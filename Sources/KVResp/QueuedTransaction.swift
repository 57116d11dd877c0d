import KVProtocol

/// A connection's MULTI: the commands queued until EXEC, and whether one was refused
/// while queuing (then EXEC discards them all, as Redis does).
struct QueuedTransaction {
    enum Entry: Sendable {
        /// A data command: its operations join EXEC's transaction.
        case plan(TxnPlan)
        /// A command whose reply is known now (PING, ECHO, an error in its arguments),
        /// given at EXEC in its place.
        case answer(RESPValue)
        /// A command answered from the server's state (DBSIZE, INFO), read at EXEC.
        case state(@Sendable (RESPServerState) -> RESPValue)
    }

    private(set) var entries: [Entry] = []
    /// A command was refused while queuing: EXEC answers EXECABORT.
    private(set) var aborted = false
    private var budget = UpdateBudget.Use()

    /// Queues `entry`; the reply to the command now: QUEUED, or why it was refused.
    mutating func queue(_ entry: Entry) -> RESPValue {
        if case .plan(let plan) = entry {
            let (problem, use) = UpdateBudget.problem(with: plan, after: budget)
            if let problem { return refuse(problem) }
            budget = use
        }
        entries.append(entry)
        return .simpleString("QUEUED")
    }

    /// Refuses a command: it is not queued and the transaction will be discarded.
    mutating func refuse(_ error: RESPValue) -> RESPValue {
        aborted = true
        return error
    }
}

/// EXEC's one transaction: compares on the revisions of the WATCHed keys, then every
/// queued data command's operations in order (a command with compares of its own, such
/// as SET NX, as one nested transaction), and how each command's reply is cut from the
/// results.
struct ExecBatch: Sendable {
    private enum Part: Sendable {
        /// Operations `first...` of the transaction are the plan's.
        case inline(TxnPlan, first: Int)
        /// Operation `index` is the plan's nested transaction.
        case nested(TxnPlan, index: Int)
        case answer(RESPValue)
        case state(@Sendable (RESPServerState) -> RESPValue)
    }

    private let parts: [Part]
    let txn: Txn

    init(_ entries: [QueuedTransaction.Entry], watched: [Bytes: UInt64]) {
        var ops: [TxnOp] = []
        var parts: [Part] = []
        for entry in entries {
            switch entry {
            case .plan(let plan) where plan.isUnconditional:
                parts.append(.inline(plan, first: ops.count))
                ops += plan.success
            case .plan(let plan):
                parts.append(.nested(plan, index: ops.count))
                ops.append(.txn(plan.txn))
            case .answer(let value):
                parts.append(.answer(value))
            case .state(let answer):
                parts.append(.state(answer))
            }
        }
        self.parts = parts
        let compares = watched.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map {
            Compare(key: $0.key, .revision($0.value), .equal)
        }
        txn = Txn(compares: compares, success: ops)
    }

    /// Whether the server must run a transaction (there are operations or watched keys).
    var needsServer: Bool { !txn.success.isEmpty || !txn.compares.isEmpty }

    /// Whether a queued command is answered from the server's state.
    var needsState: Bool {
        parts.contains {
            if case .state = $0 { return true }
            return false
        }
    }

    /// EXEC's reply: nil array if a watched key changed, else each command's reply.
    func reply(_ outcome: TxnOutcome?, state: RESPServerState?) -> RESPValue {
        if let outcome, !outcome.succeeded { return .nullArray }
        return .array(
            parts.map { part in
                switch part {
                case .answer(let value):
                    return value
                case .state(let answer):
                    return state.map(answer) ?? RESPCommandRunner.stoppedReply
                case .inline(let plan, let first):
                    guard let outcome else { return TxnPlanResults.unexpected }
                    let results = outcome.results.dropFirst(first).prefix(plan.success.count)
                    return Self.reply(plan, TxnPlanResults(succeeded: true, results: results, now: outcome.now))
                case .nested(let plan, let index):
                    guard let outcome, index < outcome.results.count, case .txn(let inner) = outcome.results[index]
                    else { return TxnPlanResults.unexpected }
                    return Self.reply(plan, TxnPlanResults(inner))
                }
            })
    }

    private static func reply(_ plan: TxnPlan, _ results: TxnPlanResults) -> RESPValue {
        switch plan.reply(results) {
        case .value(let value):
            return value
        case .more:
            // KEYS over more keys than one range looks at: one transaction cannot walk on.
            return .error(
                "ERR KEYS inside MULTI looks at most \(KeyRange.maxLimit) keys; run it outside MULTI for more")
        }
    }
}
