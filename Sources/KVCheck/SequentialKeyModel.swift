import KVProtocol

/// The sequential specification of one key: what each operation does to the key's value
/// and which responses it can give, over the numbered values of a `ValueTable`.
struct SequentialKeyModel {
    /// The key's value as a `ValueTable` number, or `absent`.
    typealias State = Int32
    static let absent: State = -1
    /// Every key starts absent: a history begins on a store that never held it.
    static let initial: State = absent

    /// An operation compiled against the table. An expectation of nil is an unknown
    /// outcome: any response would do.
    enum Step {
        case get(expected: State)
        case put(State)
        case putHash(argument: Int32, expectedPrevious: Int32?)
        case delete(expectedExisted: Bool?)
    }

    private struct PutHashInput: Hashable {
        var previous: Int32
        var argument: Int32
    }

    private(set) var table = ValueTable()
    /// PutHash results already computed: a search revisits the same transitions often.
    private var putHashResults: [PutHashInput: State] = [:]

    /// The step for `operation`, or nil for a get with an unknown outcome, which
    /// constrains nothing and changes nothing.
    mutating func compile(_ operation: HistoryOperation) -> Step? {
        var response: Response?
        if case .returned(_, let answer) = operation.outcome { response = answer }
        switch (operation.call, response) {
        case (.get, .value(let value)?):
            return .get(expected: value.map { table.number(of: $0) } ?? Self.absent)
        case (.get, _):
            return nil
        case (.put(let value), _):
            return .put(table.number(of: value))
        case (.putHash(let argument), .previous(let previous)?):
            return .putHash(argument: table.number(of: argument), expectedPrevious: table.number(of: previous))
        case (.putHash(let argument), _):
            return .putHash(argument: table.number(of: argument), expectedPrevious: nil)
        case (.delete, .existed(let existed)?):
            return .delete(expectedExisted: existed)
        case (.delete, _):
            return .delete(expectedExisted: nil)
        }
    }

    /// The state after `step` taken in `state`, or nil when the step's response could not
    /// have come from `state`.
    mutating func apply(_ step: Step, to state: State) -> State? {
        switch step {
        case .get(let expected):
            return expected == state ? state : nil
        case .put(let value):
            return value
        case .putHash(let argument, let expectedPrevious):
            let previous = state == Self.absent ? ValueTable.empty : state
            if let expectedPrevious, expectedPrevious != previous { return nil }
            let input = PutHashInput(previous: previous, argument: argument)
            if let known = putHashResults[input] { return known }
            let result = table.number(of: PutHash.newValue(previous: table[previous], argument: table[argument]))
            putHashResults[input] = result
            return result
        case .delete(let expectedExisted):
            if let expectedExisted, expectedExisted != (state != Self.absent) { return nil }
            return Self.absent
        }
    }

    func describe(_ state: State) -> String {
        state == Self.absent ? "absent" : ValueText.show(table[state])
    }
}
