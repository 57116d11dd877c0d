import KVProtocol

/// Turns the deepest dead end of a failed search into text a person can check by hand:
/// how far the best attempt got, the operation it could not place and why, and the
/// operations that were in flight with it.
enum FailureExplanation {
    static func text(
        key: Bytes, operations: [HistoryOperation], steps: [SequentialKeyModel.Step], deadEnd: KeySearch.DeadEnd,
        model: inout SequentialKeyModel
    ) -> String {
        var lines = ["key \(ValueText.show(key)): not linearizable (\(operations.count) operations on this key)."]
        if deadEnd.linearizedCount == 0 {
            lines.append("No operation can take effect first; the key starts absent.")
        } else {
            lines.append(
                "The longest linearizable prefix has \(deadEnd.linearizedCount) operations, "
                    + "after which the key holds \(model.describe(deadEnd.state)):")
            let hidden = deadEnd.linearizedCount - deadEnd.lastLinearized.count
            if hidden > 0 { lines.append("  … \(hidden) earlier operations") }
            lines += deadEnd.lastLinearized.map { "  \(operations[$0])" }
        }
        let blocked = deadEnd.blocked
        lines.append("Then this operation must take effect before it returns, and cannot:")
        lines.append("  \(operations[blocked])")
        // The blocked operation's return is the earliest left: nothing after can take effect later.
        var latest = UInt64.max
        if case .returned(let at, _) = operations[blocked].outcome { latest = at }
        lines.append("  " + reason(steps[blocked], state: deadEnd.state, latest: latest, model: &model))
        if deadEnd.concurrent.isEmpty {
            lines.append("No other operation was in flight to take effect before it.")
        } else {
            lines.append("Operations in flight that could take effect before it (every order was tried):")
            lines += deadEnd.concurrent.map { "  \(operations[$0])" }
        }
        return lines.joined(separator: "\n")
    }

    private static func reason(
        _ step: SequentialKeyModel.Step, state: SequentialKeyModel.State, latest: UInt64,
        model: inout SequentialKeyModel
    ) -> String {
        if model.accepts(step, in: state, latest: latest) {
            return "(it fits the value \(model.describe(state)), but no order of the operations after it does)"
        }
        let holds = "the key holds \(model.describe(state))"
        switch step {
        case .get(let expected):
            return "(it read \(model.describeValue(expected)), but \(holds))"
        case .read(let seen), .remove(let seen?):
            return "(it found \(model.describe(seen)), but \(holds))"
        case .putHash(_, let expectedPrevious?):
            return "(it read the previous value \(model.describeValue(expectedPrevious)), but \(holds))"
        case .delete(let expectedExisted?):
            return "(it says the key \(expectedExisted ? "existed" : "was missing"), but \(holds))"
        case .write(_, _, let deadline, let answer?)
        where answer.applied && answer.after == .absent && (deadline == 0 || deadline > latest):
            // Only a deadline already passed when it ran leaves a written key absent.
            let when =
                deadline == 0 ? "it has no deadline" : "it returned at \(latest), before its deadline \(deadline)"
            return "(it was applied and left the key absent, but \(when); \(holds))"
        case .write(_, _, _, let answer?), .add(_, let answer?):
            return "(it was \(answer.applied ? "applied" : "refused") and left \(model.describe(answer.after)), "
                + "but \(holds))"
        case .put, .putHash, .delete, .write, .add, .remove:
            return "(\(holds))"
        }
    }
}
