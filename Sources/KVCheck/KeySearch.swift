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

    /// What a search cost, for tests and `kv-history-check --statistics`.
    struct Statistics {
        var steps = 0
        var memoEntries = 0
        var memoBytes = 0
    }

    /// One linearized call, with what to restore when the search takes it back.
    private struct Frame {
        var call: Int
        /// Which of the step's outcomes was taken (`SequentialKeyModel.successor`).
        var alternative: Int
        var stateBefore: State
        var frontierBefore: Int
        var highestBefore: Int
        var unknownSetBefore: Int
    }

    /// Searches for an order of `steps` (operation i invoked at `invokedAt[i]`, returned at
    /// `returnedAt[i]` or unknown) that the model accepts, in at most `budget` steps.
    ///
    /// The memo key of a prefix (the set of operations it linearized, and the value after
    /// them) is stored in a form whose size does not grow with the history:
    /// - Operations with a return are numbered in the order of their calls. Every one
    ///   before the frontier (the first not linearized) is linearized, and every one
    ///   linearized after it was called before the frontier's return (a call is only taken
    ///   while no return is ahead of it, and the frontier's return is still in the list).
    ///   So the key holds the frontier and the bit words from the frontier's to the highest
    ///   linearized operation's: one or two words when few operations overlap one another,
    ///   where a bitset of every operation held one bit per operation of the key.
    /// - Operations with an unknown outcome stay concurrent with everything after their
    ///   call, so no window bounds them. Their linearized subset is numbered once in
    ///   `unknownSets` and the key holds that number; the search meets few such subsets.
    /// Both forms name exactly one set, so the memo answers exactly as a full bitset would.
    static func run(
        steps: [SequentialKeyModel.Step], invokedAt: [UInt64], returnedAt: [UInt64?],
        model: inout SequentialKeyModel, budget: Int, statistics: inout Statistics
    ) -> Verdict {
        var events = EventList(invokedAt: invokedAt, returnedAt: returnedAt)
        // Each operation's number among those with a return, or among those without, in
        // call order.
        var rank = [Int](repeating: 0, count: steps.count)
        var knownCount = 0
        var unknownCount = 0
        var walk = events.next[events.head]
        while walk != EventList.none {
            if EventList.isCall(walk) {
                let operation = EventList.operation(of: walk)
                if returnedAt[operation] == nil {
                    rank[operation] = unknownCount
                    unknownCount += 1
                } else {
                    rank[operation] = knownCount
                    knownCount += 1
                }
            }
            walk = events.next[walk]
        }
        var known = Bitset(capacity: knownCount)
        var frontier = 0
        var highest = -1
        var unknown = Bitset(capacity: unknownCount)
        var unknownSets = SearchMemo()
        var unknownSet = unknownSets.insert(0, 0, unknown.words[...]).offset
        var memo = SearchMemo()
        var stack: [Frame] = []
        var state = SequentialKeyModel.initial
        var deepest: DeadEnd?
        var node = events.next[events.head]
        var spent = 0
        defer {
            statistics.steps = spent
            statistics.memoEntries = memo.count
            statistics.memoBytes = memo.byteCount + unknownSets.byteCount
        }

        /// Whether the prefix (`known` up to `highest` from `frontier`, `unknownSet`) that
        /// leaves `state` is new, remembering it.
        func isNew(_ state: State, _ frontier: Int, _ highest: Int, _ unknownSet: Int) -> Bool {
            let body = highest >= frontier ? known.words[frontier >> 6...highest >> 6] : []
            let first = UInt64(UInt32(bitPattern: state)) << 32 | UInt64(UInt32(truncatingIfNeeded: frontier))
            return memo.insert(first, UInt64(unknownSet), body).inserted
        }

        /// The earliest return still in the list, at or after `call` (no return comes
        /// before the call the walk is at): no operation left can take effect later.
        func latest(from call: Int) -> UInt64 {
            var walk = call
            while walk != EventList.none {
                if !EventList.isCall(walk) { return returnedAt[EventList.operation(of: walk)] ?? .max }
                walk = events.next[walk]
            }
            return .max
        }

        /// Outcome `alternative` of operation `operation`'s step from the current state.
        func successor(_ operation: Int, at call: Int, alternative: Int) -> SequentialKeyModel.Successor {
            let step = steps[operation]
            let bound = model.dependsOnTime(step, in: state) ? latest(from: call) : .max
            return model.successor(of: step, from: state, latest: bound, alternative: alternative)
        }

        /// Linearizes `operation` leaving `after`, unless this prefix set has led to that
        /// state before (and failed from there).
        func take(_ operation: Int, leaving after: State) -> Bool {
            if returnedAt[operation] != nil {
                let member = rank[operation]
                known.insert(member)
                let newFrontier = member == frontier ? known.firstAbsent(from: member + 1) : frontier
                let newHighest = max(highest, member)
                guard isNew(after, newFrontier, newHighest, unknownSet) else {
                    known.remove(member)
                    return false
                }
                frontier = newFrontier
                highest = newHighest
            } else {
                unknown.insert(rank[operation])
                let newSet = unknownSets.insert(0, 0, unknown.words[...]).offset
                guard isNew(after, frontier, highest, newSet) else {
                    unknown.remove(rank[operation])
                    return false
                }
                unknownSet = newSet
            }
            return true
        }

        // The first outcome to try at `node`: past 0 when the search comes back to a call
        // to try its next outcome.
        var firstAlternative = 0
        while !events.isEmpty {
            spent += 1
            if spent > budget { return .budgetExhausted }
            if EventList.isCall(node) {
                let operation = EventList.operation(of: node)
                var alternative = firstAlternative
                firstAlternative = 0
                var taken = false
                while !taken {
                    let outcome = successor(operation, at: node, alternative: alternative)
                    if outcome == .none { break }
                    if case .state(let after) = outcome {
                        let frame = Frame(
                            call: node, alternative: alternative, stateBefore: state, frontierBefore: frontier,
                            highestBefore: highest, unknownSetBefore: unknownSet)
                        taken = take(operation, leaving: after)
                        if taken {
                            stack.append(frame)
                            state = after
                        }
                    }
                    alternative += 1
                }
                if taken {
                    // Take effect here, then start again from the earliest event left.
                    events.lift(call: node)
                    node = events.next[events.head]
                    continue
                }
                node = events.next[node]
            } else {
                // A return, and its operation has not taken effect: this attempt is dead.
                if stack.count > deepest?.linearizedCount ?? -1 {
                    deepest = deadEnd(at: node, events: events, stack: stack, state: state)
                }
                guard let frame = stack.popLast() else {
                    return .notLinearizable(deepest!)
                }
                let operation = EventList.operation(of: frame.call)
                if returnedAt[operation] != nil {
                    known.remove(rank[operation])
                } else {
                    unknown.remove(rank[operation])
                }
                state = frame.stateBefore
                frontier = frame.frontierBefore
                highest = frame.highestBefore
                unknownSet = frame.unknownSetBefore
                events.unlift(call: frame.call)
                // The same call's next outcome, if it has one, before the calls after it.
                if successor(operation, at: frame.call, alternative: frame.alternative + 1) != .none {
                    node = frame.call
                    firstAlternative = frame.alternative + 1
                } else {
                    node = events.next[frame.call]
                }
            }
        }
        return .linearizable
    }

    private static func deadEnd(
        at returnNode: Int, events: EventList, stack: [Frame], state: State
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
