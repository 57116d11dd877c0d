/// The depth-first search for a linearization of one key's operations (see
/// `LinearizabilityChecker` for the algorithm).
struct KeySearch {
    typealias State = SequentialKeyModel.State

    /// Where the deepest failed attempt stopped: enough to show a person why.
    struct DeadEnd {
        /// How many operations that attempt had linearized, and the last few of them in order.
        var linearizedCount: Int
        var lastLinearized: [Int]
        /// The key's state after them.
        var state: State
        /// The operation whose return came next without it having taken effect.
        var blocked: Int
        /// The other operations that could have taken effect at that point.
        var concurrent: [Int]
    }

    enum Verdict {
        case linearizable
        case notLinearizable(DeadEnd)
        case budgetExhausted
    }

    /// How many linearized operations a dead end shows.
    static let shownPrefix = 8

    private struct MemoKey: Hashable {
        var linearized: Bitset
        var state: State
    }

    /// Searches for an order of `steps` (operation i invoked at `invokedAt[i]`, returned at
    /// `returnedAt[i]` or unknown) that the model accepts, in at most `budget` steps.
    static func run(
        steps: [SequentialKeyModel.Step], invokedAt: [UInt64], returnedAt: [UInt64?],
        model: inout SequentialKeyModel, budget: Int
    ) -> Verdict {
        var events = EventList(invokedAt: invokedAt, returnedAt: returnedAt)
        var linearized = Bitset(capacity: steps.count)
        var seen: Set<MemoKey> = []
        // The calls linearized so far, with the state before each, to backtrack.
        var stack: [(call: Int, stateBefore: State)] = []
        var state = SequentialKeyModel.initial
        var deepest: DeadEnd?
        var node = events.next[events.head]
        var spent = 0

        while !events.isEmpty {
            spent += 1
            if spent > budget { return .budgetExhausted }
            if EventList.isCall(node) {
                let operation = EventList.operation(of: node)
                if let after = model.apply(steps[operation], to: state) {
                    linearized.insert(operation)
                    if seen.insert(MemoKey(linearized: linearized, state: after)).inserted {
                        // Take effect here, then start again from the earliest event left.
                        stack.append((node, state))
                        state = after
                        events.lift(call: node)
                        node = events.next[events.head]
                        continue
                    }
                    // This prefix set has led to this state before, and failed from there.
                    linearized.remove(operation)
                }
                node = events.next[node]
            } else {
                // A return, and its operation has not taken effect: this attempt is dead.
                if stack.count > deepest?.linearizedCount ?? -1 {
                    deepest = deadEnd(at: node, events: events, stack: stack, state: state)
                }
                guard let (call, stateBefore) = stack.popLast() else {
                    return .notLinearizable(deepest!)
                }
                linearized.remove(EventList.operation(of: call))
                state = stateBefore
                events.unlift(call: call)
                node = events.next[call]
            }
        }
        return .linearizable
    }

    private static func deadEnd(
        at returnNode: Int, events: EventList, stack: [(call: Int, stateBefore: State)], state: State
    ) -> DeadEnd {
        var concurrent: [Int] = []
        var node = events.next[events.head]
        while node != returnNode {
            if EventList.isCall(node) && node + 1 != returnNode { concurrent.append(EventList.operation(of: node)) }
            node = events.next[node]
        }
        return DeadEnd(
            linearizedCount: stack.count,
            lastLinearized: stack.suffix(shownPrefix).map { EventList.operation(of: $0.call) },
            state: state, blocked: EventList.operation(of: returnNode), concurrent: concurrent)
    }
}
