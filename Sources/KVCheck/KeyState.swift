/// Everything the sequential model knows of one key at one point of a linearization.
/// The search's states are numbers of these (`KeyStateTable`), so they hash and compare
/// in constant time.
struct KeyState: Hashable {
    /// The value as a `ValueTable` number, or `KeyState.absentValue`.
    var value: Int32
    /// The revision of the write that left the value; 0 while no answer showed it (a
    /// write that timed out, or one of the calls that answer no revision).
    var revision: UInt64
    /// The time from which the key may vanish by expiry; 0 for none.
    var deadline: UInt64
    /// The highest revision any operation so far showed on this key: the store's counter
    /// is global, so all a key's history says is that each write's revision is above it.
    var floor: UInt64

    static let absentValue: Int32 = -1
    /// Every key starts absent: a history begins on a store that never held it.
    static let initial = KeyState(value: absentValue, revision: 0, deadline: 0, floor: 0)

    var isPresent: Bool { value != Self.absentValue }

    /// The key gone (deleted or expired), the revisions seen so far remembered.
    var removed: KeyState { KeyState(value: Self.absentValue, revision: 0, deadline: 0, floor: floor) }

    /// The key holding `value` from a write whose revision is not known yet.
    func written(_ value: Int32, deadline: UInt64) -> KeyState {
        KeyState(value: value, revision: 0, deadline: deadline, floor: floor)
    }

    /// Whether the key may have expired before an operation that takes effect no later
    /// than `latest`: expiry is the primary's own event, allowed from the deadline on,
    /// never required (a primary whose clock is behind may still serve the key).
    func mayExpire(by latest: UInt64) -> Bool {
        isPresent && deadline != 0 && deadline <= latest
    }
}

/// Numbers the distinct `KeyState`s of one key's search. A state with nothing but a value
/// (no revision, deadline or revision seen: all a history of the original four calls
/// has) is its value's number, or -1 when absent, so those histories cost no table; the
/// others are numbered from -2 down.
struct KeyStateTable {
    private var states: [KeyState] = []
    private var numbers: [KeyState: Int32] = [:]

    mutating func number(of state: KeyState) -> Int32 {
        if state.revision == 0 && state.deadline == 0 && state.floor == 0 { return state.value }
        if let number = numbers[state] { return number }
        let number = -2 - Int32(states.count)
        states.append(state)
        numbers[state] = number
        return number
    }

    subscript(number: Int32) -> KeyState {
        if number >= KeyState.absentValue { return KeyState(value: number, revision: 0, deadline: 0, floor: 0) }
        return states[Int(-2 - number)]
    }
}
