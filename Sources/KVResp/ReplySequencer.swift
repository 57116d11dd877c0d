/// Puts replies back in the order their commands arrived: a pipelining client matches
/// replies to commands by position only, while commands complete in any order (a GET
/// answered from the server's state may finish before an earlier SET the backup has not
/// confirmed yet).
///
/// A command waiting for the server keeps what its reply needs (`Awaiting`) in its own
/// place, found by its number: the number is what the server's reply comes back with
/// (`ClientReplySink`), so no table is searched per reply. The places are a ring of its
/// own, indexed by number: three lookups per command, each a mask.
struct ReplySequencer<Awaiting> {
    private enum Slot {
        /// Not answered; what its reply needs while it waits for the server.
        case open(Awaiting?)
        case ready(RESPReply)
        /// Outside the commands reserved.
        case unused
    }

    /// A power of two; the place of number `n` is `slots[(n - firstNumber + head) & mask]`.
    private var slots: [Slot] = Array(repeating: .unused, count: 16)
    private var head = 0
    /// The number of the oldest command not handed out; numbers grow by one per command.
    private var firstNumber: UInt64 = 0

    /// Commands reserved and not yet handed out.
    private(set) var count = 0
    var isEmpty: Bool { count == 0 }

    /// A place for the next command's reply.
    mutating func reserve() -> UInt64 {
        if count == slots.count { grow() }
        slots[(head + count) & (slots.count - 1)] = .open(nil)
        count += 1
        return firstNumber + UInt64(count - 1)
    }

    private func place(_ number: UInt64) -> Int? {
        guard number >= firstNumber, number - firstNumber < UInt64(count) else { return nil }
        return (head + Int(number - firstNumber)) & (slots.count - 1)
    }

    /// The command `number` waits for the server; `awaiting` is kept until `take`.
    mutating func wait(_ number: UInt64, for awaiting: Awaiting) {
        guard let place = place(number) else { preconditionFailure("no such reply slot") }
        slots[place] = .open(awaiting)
    }

    /// What command `number` kept while it waited; nil if it does not wait (any more).
    mutating func take(_ number: UInt64) -> Awaiting? {
        guard let place = place(number), case .open(let awaiting?) = slots[place] else { return nil }
        slots[place] = .open(nil)
        return awaiting
    }

    mutating func complete(_ number: UInt64, with value: RESPReply) {
        guard let place = place(number) else { preconditionFailure("no such reply slot") }
        slots[place] = .ready(value)
    }

    /// The oldest reply, if it has completed; every earlier one has been handed out.
    mutating func nextReady() -> RESPReply? {
        guard count > 0, case .ready(let value) = slots[head] else { return nil }
        slots[head] = .unused
        head = (head + 1) & (slots.count - 1)
        count -= 1
        firstNumber += 1
        return value
    }

    private mutating func grow() {
        var larger = [Slot](repeating: .unused, count: slots.count * 2)
        for offset in 0..<count { larger[offset] = slots[(head + offset) & (slots.count - 1)] }
        slots = larger
        head = 0
    }
}
