import KVProtocol

/// Decides whether a history of key/value operations is linearizable: whether every
/// operation can be given one instant between its invocation and its return at which it
/// takes effect, so that the operations, run one at a time in the order of those instants
/// on a single key/value map, give exactly the responses the clients saw.
///
/// Algorithm (Wing and Gong's search with Lowe's memoization, as in Porcupine):
/// - Every operation touches one key, and a history is linearizable exactly when each
///   key's sub-history is (linearizability is local), so keys are checked one by one.
/// - A key's calls and returns go in one time-ordered list. A depth-first search walks it:
///   at a call it tries to let that operation take effect now (the model must accept its
///   response in the current state); if so, the operation is lifted out of the list and
///   the walk restarts from the front. Reaching a return means that operation did not take
///   effect before it returned: the search backtracks to the last choice and tries the
///   next call instead. An empty list is a linearization.
/// - A set of (operations linearized, resulting value) already explored is never explored
///   again: two prefixes with the same operations and the same value have the same future.
/// - Unknown outcomes (timeouts) have their return at +infinity and accept any response,
///   so the search may place them anywhere after their invocation, including after
///   everything else, which is the same as never.
/// - The transactions' calls (`SequentialKeyModel`): revisions (each write's above every
///   one seen on the key before, a read's that of the last write), conditional writes
///   (applied exactly when the condition held), adds, and deadlines: a key may vanish by
///   expiry before any operation that can take effect at or after its deadline — that is,
///   while no operation left to linearize returned before the deadline — and never
///   earlier. Expiry is allowed, not required. A step with several possible outcomes (the
///   key expired or not; a timed-out write's condition true or false) has each tried in
///   turn, and the memo tells them apart by the state they leave.
/// - A scan's page reads several keys at once: each key it covered is checked as a read
///   of that key (`ScanPages`), and whole scans are checked to return every key present
///   throughout them (`ScanCoverage`), before the per-key search.
///
/// Limits:
/// - The problem is NP-complete. Each key's search stops after `stepBudgetPerKey` steps
///   with `.timedOut`; highly concurrent keys, and above all many unknown outcomes on one
///   key (each stays concurrent with everything after it), make the search grow
///   exponentially, chiefly when the history is *not* linearizable.
/// - Memory: the memo holds at most one entry per step, so at most `stepBudgetPerKey`
///   entries per key, and is freed before the next key. An entry (`SearchMemo`) is 16
///   bytes, plus 8 for each 64 operations from the frontier (the first operation with a
///   return not yet linearized) to the last one linearized after it, which were all
///   called while the frontier was in flight (one word while fewer than 64 operations
///   overlap one operation), plus its hash slot and the arrays' spare capacity: 44 bytes
///   on average. The sets of unknown outcomes linearized are stored once each, a bit per
///   unknown outcome of the key. So with at most W operations overlapping one, memory is
///   about entries × (44 + W / 8) bytes, and entries are a few per operation (the search
///   visits each operation a few times), so it is linear in the operations while W is
///   bounded: 81,000 operations on one key from 8 clients made 1.1 million entries, 50 MB
///   (0.4 s); a bitset of all the key's operations per entry took 11 GB (19 s) there.
/// - Operations with equal times count as concurrent, so a clock too coarse to order two
///   operations can hide a violation but never invent one.
/// - Every key starts absent. Record only operations with a definite answer or an unknown
///   outcome; a request known to have been refused (wrong server, invalid) is left out.
/// - The explanation of a failure shows the deepest attempt, which is a good witness but
///   not necessarily the smallest one.
public struct LinearizabilityChecker: Sendable {
    /// Search steps (events visited) allowed per key before giving up.
    public var stepBudgetPerKey: Int

    public init(stepBudgetPerKey: Int = 1_000_000) {
        self.stepBudgetPerKey = stepBudgetPerKey
    }

    /// Checks every key of `history`, in byte order of the keys. A key that is not
    /// linearizable wins over one whose search ran out of budget.
    public func check(_ history: [HistoryOperation]) -> CheckResult {
        var statistics: [Bytes: SearchStatistics] = [:]
        return check(history, statistics: &statistics)
    }

    /// `check(_:)`, also telling what each key's search cost (keys after a violation are
    /// not searched, so they have none).
    public func check(_ history: [HistoryOperation], statistics: inout [Bytes: SearchStatistics]) -> CheckResult {
        if let problem = Self.problem(in: history) { return .invalidHistory(problem) }
        if let missed = ScanCoverage.violation(in: history) {
            return .notLinearizable(key: missed.key, explanation: missed.explanation)
        }
        var byKey: [Bytes: [HistoryOperation]] = [:]
        for operation in ScanPages.perKey(history) { byKey[operation.key, default: []].append(operation) }
        var exhausted: Bytes?
        for key in byKey.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            var cost = SearchStatistics()
            let result = check(key: key, byKey[key]!, statistics: &cost)
            statistics[key] = cost
            switch result {
            case .linearizable: continue
            case .timedOut where exhausted == nil: exhausted = key
            case .timedOut: continue
            case let failure: return failure
            }
        }
        return exhausted.map { .timedOut(key: $0) } ?? .linearizable
    }

    private func check(key: Bytes, _ all: [HistoryOperation], statistics: inout SearchStatistics) -> CheckResult {
        var model = SequentialKeyModel()
        var operations: [HistoryOperation] = []
        var steps: [SequentialKeyModel.Step] = []
        for operation in all {
            guard let step = model.compile(operation) else { continue }
            operations.append(operation)
            steps.append(step)
        }
        let returnedAt = operations.map { operation -> UInt64? in
            if case .returned(let at, _) = operation.outcome { return at }
            return nil
        }
        var cost = KeySearch.Statistics()
        let verdict = KeySearch.run(
            steps: steps, invokedAt: operations.map(\.invokedAt), returnedAt: returnedAt, model: &model,
            budget: stepBudgetPerKey, statistics: &cost)
        statistics = SearchStatistics(
            operations: operations.count, steps: cost.steps, memoEntries: cost.memoEntries, memoBytes: cost.memoBytes)
        switch verdict {
        case .linearizable:
            return .linearizable
        case .budgetExhausted:
            return .timedOut(key: key)
        case .notLinearizable(let deadEnd):
            let text = FailureExplanation.text(
                key: key, operations: operations, steps: steps, deadEnd: deadEnd, model: &model)
            return .notLinearizable(key: key, explanation: text)
        }
    }

    /// Why `history` cannot be checked at all, if it cannot.
    private static func problem(in history: [HistoryOperation]) -> String? {
        for operation in history {
            guard case .returned(let at, let response) = operation.outcome else { continue }
            if at < operation.invokedAt { return "returns before it is invoked: \(operation)" }
            if !operation.call.accepts(response) { return "a response of the wrong kind: \(operation)" }
        }
        return nil
    }
}

/// What the search of one key cost.
public struct SearchStatistics: Equatable, Sendable {
    /// The key's operations that constrain the search (gets with an unknown outcome do not).
    public var operations = 0
    /// Events visited, which `stepBudgetPerKey` limits.
    public var steps = 0
    /// Prefixes remembered as explored: at most one per step.
    public var memoEntries = 0
    /// Bytes the memo had allocated at the end, which is its peak: it only grows.
    public var memoBytes = 0

    public init(operations: Int = 0, steps: Int = 0, memoEntries: Int = 0, memoBytes: Int = 0) {
        self.operations = operations
        self.steps = steps
        self.memoEntries = memoEntries
        self.memoBytes = memoBytes
    }
}
