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
        lines.append("  " + reason(steps[blocked], state: deadEnd.state, model: &model))
        if deadEnd.concurrent.isEmpty {
            lines.append("No other operation was in flight to take effect before it.")
        } else {
            lines.append("Operations in flight that could take effect before it (every order was tried):")
            lines += deadEnd.concurrent.map { "  \(operations[$0])" }
        }
        return lines.joined(separator: "\n")
    }

    private static func reason(
        _ step: SequentialKeyModel.Step, state: SequentialKeyModel.State, model: inout SequentialKeyModel
    ) -> String {
        if model.apply(step, to: state) != nil {
            return "(it fits the value \(model.describe(state)), but no order of the operations after it does)"
        }
        let holds = "the key holds \(model.describe(state))"
        switch step {
        case .get(let expected):
            return "(it read \(model.describe(expected)), but \(holds))"
        case .putHash(_, let expectedPrevious?):
            return "(it read the previous value \(model.describe(expectedPrevious)), but \(holds))"
        case .delete(let expectedExisted?):
            return "(it says the key \(expectedExisted ? "existed" : "was missing"), but \(holds))"
        case .put, .putHash, .delete:
            return "(\(holds))"
        }
    }
}
