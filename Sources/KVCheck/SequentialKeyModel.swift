import KVProtocol

/// The sequential specification of one key: what each operation does to the key and
/// which responses it can give, over numbered `KeyState`s (value, revision, deadline and
/// the highest revision seen so far).
///
/// Some steps have more than one possible outcome, which the search tries in turn
/// (`successor(of:from:latest:alternative:)`):
/// - a key with a deadline may have expired before any operation that can take effect
///   at or after the deadline (`latest`, the earliest return still ahead, bounds when
///   that is) — expiry is an internal event of the primary, allowed but never required;
/// - a write that timed out, conditional on a revision the history never showed, may
///   have found its condition true or false.
struct SequentialKeyModel {
    /// A `KeyStateTable` number.
    typealias State = Int32
    /// The key absent, nothing seen.
    static let initial: State = KeyState.absentValue

    /// What an answer showed of the key.
    enum Observation: Equatable {
        case absent
        case present(value: Int32, revision: UInt64)
    }

    /// A write's or an add's answer.
    struct Answer: Equatable {
        var applied: Bool
        var after: Observation
    }

    /// An operation compiled against the tables. An expectation or answer of nil is an
    /// unknown outcome: any response would do.
    enum Step {
        /// The value number, or `KeyState.absentValue`.
        case get(expected: Int32)
        case put(Int32)
        case putHash(argument: Int32, expectedPrevious: Int32?)
        case delete(expectedExisted: Bool?)
        // The transactions' steps are boxed (indirect), so the steps of a long history of
        // the original calls stay as small as they were.
        /// A transaction's get, or a scan's page that covered the key.
        indirect case read(Observation)
        /// `deadline` 0 for none.
        indirect case write(value: Int32, condition: ConditionalWrite.Condition, deadline: UInt64, answer: Answer?)
        indirect case add(delta: Int64, answer: Answer?)
        indirect case remove(expectedPrevious: Observation?)
    }

    /// One possible outcome of a step.
    enum Successor: Equatable {
        case state(State)
        /// This outcome does not fit the step's response.
        case rejected
        /// The step has no more outcomes.
        case none
    }

    private struct PutHashInput: Hashable {
        var previous: Int32
        var argument: Int32
    }

    private(set) var table = ValueTable()
    private var states = KeyStateTable()
    /// PutHash results already computed: a search revisits the same transitions often.
    private var putHashResults: [PutHashInput: Int32] = [:]
    /// Values already read as integers (nil: not an integer).
    private var integers: [Int32: Int64?] = [:]

    /// The step for `operation`, or nil for a read with an unknown outcome, which
    /// constrains nothing and changes nothing. A scan's page is compiled as a read of
    /// the operation's key, which `ScanPages` set to one key the page covered.
    mutating func compile(_ operation: HistoryOperation) -> Step? {
        var response: Response?
        if case .returned(_, let answer) = operation.outcome { response = answer }
        switch (operation.call, response) {
        case (.get, .value(let value)?):
            return .get(expected: value.map { table.number(of: $0) } ?? KeyState.absentValue)
        case (.read, .entry(let found)?):
            return .read(observation(of: found))
        case (.range, .page(let items, _)?):
            return .read(observation(of: items.first { $0.key == operation.key }?.found))
        case (.get, _), (.read, _), (.range, _):
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
        case (.write(let write), _):
            return .write(
                value: table.number(of: write.value), condition: write.condition, deadline: write.deadline ?? 0,
                answer: answer(response))
        case (.add(let delta), _):
            return .add(delta: delta, answer: answer(response))
        case (.remove, .entry(let previous)?):
            return .remove(expectedPrevious: observation(of: previous))
        case (.remove, _):
            return .remove(expectedPrevious: nil)
        }
    }

    private mutating func observation(of found: VersionedValue?) -> Observation {
        guard let found else { return .absent }
        return .present(value: table.number(of: found.value), revision: found.revision)
    }

    private mutating func answer(_ response: Response?) -> Answer? {
        guard case .written(let applied, let after)? = response else { return nil }
        return Answer(applied: applied, after: observation(of: after))
    }

    /// Whether `step` in `state` needs `latest`: only deadlines make time matter.
    func dependsOnTime(_ step: Step, in state: State) -> Bool {
        if states[state].deadline != 0 { return true }
        if case .write(_, _, let deadline, _) = step { return deadline != 0 }
        return false
    }

    /// Outcome number `alternative` (0, 1, ...) of `step` taken in `state`, by an
    /// operation that takes effect no later than `latest` (the earliest return of an
    /// operation not yet linearized, this one's included). Outcomes come in a fixed order:
    /// those on the state as it is, then, if it may have expired by `latest`, those on
    /// the key expired.
    mutating func successor(of step: Step, from state: State, latest: UInt64, alternative: Int) -> Successor {
        let current = states[state]
        let branches = branchCount(step, current)
        if alternative < branches { return successor(of: step, current, branch: alternative, latest: latest) }
        guard current.mayExpire(by: latest) else { return .none }
        let expired = current.removed
        let index = alternative - branches
        guard index < branchCount(step, expired) else { return .none }
        return successor(of: step, expired, branch: index, latest: latest)
    }

    /// Whether any outcome of `step` in `state` fits its response.
    mutating func accepts(_ step: Step, in state: State, latest: UInt64) -> Bool {
        var alternative = 0
        while true {
            switch successor(of: step, from: state, latest: latest, alternative: alternative) {
            case .state: return true
            case .none: return false
            case .rejected: alternative += 1
            }
        }
    }

    /// 2 for a write that timed out whose condition the state cannot decide; else 1.
    private func branchCount(_ step: Step, _ state: KeyState) -> Int {
        guard case .write(_, let condition, _, nil) = step else { return 1 }
        return Self.holds(condition, in: state) == nil ? 2 : 1
    }

    /// Whether the condition holds; nil when it compares with a revision the history never
    /// showed and that could be it.
    private static func holds(_ condition: ConditionalWrite.Condition, in state: KeyState) -> Bool? {
        switch condition {
        case .always: return true
        case .absent: return !state.isPresent
        case .revision(let wanted):
            guard state.isPresent else { return wanted == 0 }
            if state.revision != 0 { return state.revision == wanted }
            return wanted > state.floor ? nil : false
        }
    }

    private mutating func successor(
        of step: Step, _ before: KeyState, branch: Int, latest: UInt64
    ) -> Successor {
        let after: KeyState?
        switch step {
        case .get(let expected):
            after = expected == before.value ? before : nil
        case .put(let value):
            after = before.written(value, deadline: 0)
        case .putHash(let argument, let expectedPrevious):
            let previous = before.isPresent ? before.value : ValueTable.empty
            if let expectedPrevious, expectedPrevious != previous { return .rejected }
            after = before.written(hash(previous: previous, argument: argument), deadline: 0)
        case .delete(let expectedExisted):
            if let expectedExisted, expectedExisted != before.isPresent { return .rejected }
            after = before.removed
        case .read(let observation):
            after = Self.observe(observation, in: before)
        case .write(let value, let condition, let deadline, let answer):
            after = write(value, condition, deadline, answer, before, branch: branch, latest: latest)
        case .add(let delta, let answer):
            after = add(delta, answer, before)
        case .remove(let expectedPrevious?):
            // What it deleted shows the key, and so the revisions seen.
            after = Self.observe(expectedPrevious, in: before)?.removed
        case .remove(nil):
            after = before.removed
        }
        return after.map { .state(states.number(of: $0)) } ?? .rejected
    }

    /// The key as an answer that saw `observation` shows it, the revision learnt, or nil
    /// when `state` cannot show that: another value, or a revision that is not the last
    /// write's (when known) or not above every revision seen before (when not).
    private static func observe(_ observation: Observation, in state: KeyState) -> KeyState? {
        switch observation {
        case .absent:
            return state.isPresent ? nil : state
        case .present(let value, let revision):
            guard state.isPresent, state.value == value else { return nil }
            if state.revision == revision { return state }
            guard state.revision == 0, revision > state.floor else { return nil }
            var learnt = state
            learnt.revision = revision
            learnt.floor = revision
            return learnt
        }
    }

    /// A write's new value: a revision above every one before, and, if its deadline had
    /// passed when it ran, the key gone at once (as the store does).
    private static func newlyWritten(
        _ state: KeyState, _ after: Observation, value: Int32, deadline: UInt64, latest: UInt64
    ) -> KeyState? {
        switch after {
        case .absent:
            return deadline != 0 && deadline <= latest ? state.removed : nil
        case .present(let seen, let revision):
            guard seen == value, revision > state.floor else { return nil }
            return KeyState(value: value, revision: revision, deadline: deadline, floor: revision)
        }
    }

    private func write(
        _ value: Int32, _ condition: ConditionalWrite.Condition, _ deadline: UInt64, _ answer: Answer?,
        _ before: KeyState, branch: Int, latest: UInt64
    ) -> KeyState? {
        let decided = Self.holds(condition, in: before)
        let ran = answer?.applied ?? decided ?? (branch == 0)
        if let decided, decided != ran { return nil }
        guard ran else {
            guard let answer else { return before }
            // A refused write reads the key: what it saw must refuse the condition too.
            guard let seen = Self.observe(answer.after, in: before), Self.holds(condition, in: seen) == false else {
                return nil
            }
            return seen
        }
        var state = before
        // The condition held on a revision the history had not shown: now it has.
        if case .revision(let wanted) = condition, before.isPresent, before.revision == 0 {
            state.floor = max(state.floor, wanted)
        }
        guard let answer else { return state.written(value, deadline: deadline) }
        return Self.newlyWritten(state, answer.after, value: value, deadline: deadline, latest: latest)
    }

    private mutating func add(_ delta: Int64, _ answer: Answer?, _ before: KeyState) -> KeyState? {
        let current = before.isPresent ? integer(before.value) : 0
        let sum = current.flatMap { current -> Int64? in
            let (sum, overflow) = current.addingReportingOverflow(delta)
            return overflow ? nil : sum
        }
        guard let sum else {
            guard let answer else { return before }
            return answer.applied ? nil : Self.observe(answer.after, in: before)
        }
        let value = table.number(of: Bytes(utf8: String(sum)))
        // The add keeps the key's deadline.
        guard let answer else { return before.written(value, deadline: before.deadline) }
        guard answer.applied else { return nil }
        // Its deadline, if any, had not passed (the key was live): it never leaves the key absent.
        return Self.newlyWritten(before, answer.after, value: value, deadline: before.deadline, latest: 0)
    }

    private mutating func hash(previous: Int32, argument: Int32) -> Int32 {
        let input = PutHashInput(previous: previous, argument: argument)
        if let known = putHashResults[input] { return known }
        let result = table.number(of: PutHash.newValue(previous: table[previous], argument: table[argument]))
        putHashResults[input] = result
        return result
    }

    /// The value read as an integer as the store reads it (Redis's rule: the exact decimal
    /// text of a signed 64-bit number, so no '+', no leading zeros, no "-0").
    private mutating func integer(_ value: Int32) -> Int64? {
        if let known = integers[value] { return known }
        let text = String(decoding: table[value], as: UTF8.self)
        let number = Int64(text).flatMap { String($0) == text ? $0 : nil }
        integers[value] = number
        return number
    }

    func describe(_ state: State) -> String {
        let key = states[state]
        guard key.isPresent else { return "absent" }
        var notes: [String] = []
        if key.revision != 0 { notes.append("revision \(key.revision)") }
        if key.deadline != 0 { notes.append("may expire from \(key.deadline)") }
        return describeValue(key.value) + (notes.isEmpty ? "" : " (" + notes.joined(separator: ", ") + ")")
    }

    /// A value number, or absent.
    func describeValue(_ value: Int32) -> String {
        value == KeyState.absentValue ? "absent" : ValueText.show(table[value])
    }

    func describe(_ observation: Observation) -> String {
        switch observation {
        case .absent: "absent"
        case .present(let value, let revision): "\(describeValue(value)) at revision \(revision)"
        }
    }
}
