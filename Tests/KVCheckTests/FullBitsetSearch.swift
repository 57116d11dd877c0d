@testable import KVCheck

/// The search as it was before its memo keys were made compact: the same walk, with every
/// memo key a bitset of all the key's operations. Kept as the reference the compact memo
/// must agree with step for step, and whose memory the long-history test computes.
enum FullBitsetSearch {
    struct FullBitset: Hashable {
        var words: [UInt64]

        init(capacity: Int) { words = [UInt64](repeating: 0, count: (capacity + 63) / 64) }
        mutating func insert(_ member: Int) { words[member >> 6] |= 1 << UInt64(member & 63) }
        mutating func remove(_ member: Int) { words[member >> 6] &= ~(1 << UInt64(member & 63)) }
    }

    struct MemoKey: Hashable {
        var linearized: FullBitset
        var state: SequentialKeyModel.State
    }

    static func run(
        steps: [SequentialKeyModel.Step], invokedAt: [UInt64], returnedAt: [UInt64?],
        model: inout SequentialKeyModel, budget: Int
    ) -> (verdict: KeySearch.Verdict, steps: Int, memoEntries: Int) {
        var events = EventList(invokedAt: invokedAt, returnedAt: returnedAt)
        var linearized = FullBitset(capacity: steps.count)
        var seen: Set<MemoKey> = []
        var stack: [(call: Int, stateBefore: SequentialKeyModel.State)] = []
        var state = SequentialKeyModel.initial
        var deepest: KeySearch.DeadEnd?
        var node = events.next[events.head]
        var spent = 0
        while !events.isEmpty {
            spent += 1
            if spent > budget { return (.budgetExhausted, spent, seen.count) }
            if EventList.isCall(node) {
                let operation = EventList.operation(of: node)
                // These histories hold version 1's calls: one outcome each, no deadlines.
                if case .state(let after) = model.successor(
                    of: steps[operation], from: state, latest: .max, alternative: 0)
                {
                    linearized.insert(operation)
                    if seen.insert(MemoKey(linearized: linearized, state: after)).inserted {
                        stack.append((node, state))
                        state = after
                        events.lift(call: node)
                        node = events.next[events.head]
                        continue
                    }
                    linearized.remove(operation)
                }
                node = events.next[node]
            } else {
                if stack.count > deepest?.linearizedCount ?? -1 {
                    deepest = deadEnd(at: node, events: events, calls: stack.map(\.call), state: state)
                }
                guard let (call, stateBefore) = stack.popLast() else {
                    return (.notLinearizable(deepest!), spent, seen.count)
                }
                linearized.remove(EventList.operation(of: call))
                state = stateBefore
                events.unlift(call: call)
                node = events.next[call]
            }
        }
        return (.linearizable, spent, seen.count)
    }

    private static func deadEnd(
        at returnNode: Int, events: EventList, calls: [Int], state: SequentialKeyModel.State
    ) -> KeySearch.DeadEnd {
        var concurrent: [Int] = []
        var node = events.next[events.head]
        while node != returnNode {
            if EventList.isCall(node) && node + 1 != returnNode { concurrent.append(EventList.operation(of: node)) }
            node = events.next[node]
        }
        return KeySearch.DeadEnd(
            linearizedCount: calls.count,
            lastLinearized: calls.suffix(KeySearch.shownPrefix).map { EventList.operation(of: $0) },
            state: state, blocked: EventList.operation(of: returnNode), concurrent: concurrent)
    }
}
