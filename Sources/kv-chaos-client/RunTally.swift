/// Counts of a chaos run's operations by kind and outcome, for its one-line summary.
struct RunTally: Sendable {
    struct Counts: Sendable {
        var ok = 0
        /// Timed out: the operation may or may not have taken effect.
        var unknown = 0
        /// An answer that should never come (invalid request, stale request, ...).
        var unexpected = 0
        var total: Int { ok + unknown + unexpected }
    }

    var byKind: [ChaosWorkload.Kind: Counts] = [:]
    /// The final read of every key after the load stopped.
    var finalReads = Counts()
    /// The first message of each unexpected error, to say what went wrong.
    var unexpectedErrors: [String: Int] = [:]

    var operations: Counts {
        byKind.values.reduce(into: Counts()) { sum, counts in
            sum.ok += counts.ok
            sum.unknown += counts.unknown
            sum.unexpected += counts.unexpected
        }
    }

    func json(seconds: Double, history: String) -> String {
        let total = operations
        let kinds = ChaosWorkload.Kind.allCases.map { kind in
            let counts = byKind[kind] ?? Counts()
            return "\"\(kind.rawValue)\": {\"ok\": \(counts.ok), \"unknown\": \(counts.unknown)"
                + ", \"unexpected\": \(counts.unexpected)}"
        }
        let errors = unexpectedErrors.keys.sorted().map { "\(JSONText.string($0)): \(unexpectedErrors[$0]!)" }
        return "{\"ops\": \(total.total), \"ok\": \(total.ok), \"unknown\": \(total.unknown)"
            + ", \"unexpected\": \(total.unexpected), \"by_op\": {\(kinds.joined(separator: ", "))}"
            + ", \"final_reads\": {\"ok\": \(finalReads.ok), \"unknown\": \(finalReads.unknown)"
            + ", \"unexpected\": \(finalReads.unexpected)}"
            + ", \"unexpected_errors\": {\(errors.joined(separator: ", "))}"
            + ", \"seconds\": \(Double(Int(seconds * 10)) / 10), \"history\": \(JSONText.string(history))}"
    }
}
