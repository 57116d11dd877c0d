import NIOCore

/// Puts replies back in the order their commands arrived: a pipelining client matches
/// replies to commands by position only, while commands complete in any order (a GET
/// answered from the server's state may finish before an earlier SET the backup has not
/// confirmed yet).
///
/// A command waiting for the server keeps what its reply needs (`Awaiting`) in its own
/// place, found by its number: the number is what the server's reply comes back with
/// (`ClientReplySink`), so no table is searched per reply.
struct ReplySequencer<Awaiting> {
    private enum Slot {
        /// Not answered; what its reply needs while it waits for the server.
        case open(Awaiting?)
        case ready(RESPReply)
    }

    /// One place per command not yet answered, oldest first.
    private var slots = CircularBuffer<Slot>()
    /// The number of `slots.first`; numbers grow by one per command.
    private var firstNumber: UInt64 = 0

    /// Commands reserved and not yet handed out.
    var count: Int { slots.count }
    var isEmpty: Bool { slots.isEmpty }

    /// A place for the next command's reply.
    mutating func reserve() -> UInt64 {
        slots.append(.open(nil))
        return firstNumber + UInt64(slots.count - 1)
    }

    private func index(_ number: UInt64) -> CircularBuffer<Slot>.Index {
        precondition(number >= firstNumber && number - firstNumber < UInt64(slots.count), "no such reply slot")
        return slots.index(slots.startIndex, offsetBy: Int(number - firstNumber))
    }

    /// The command `number` waits for the server; `awaiting` is kept until `take`.
    mutating func wait(_ number: UInt64, for awaiting: Awaiting) {
        slots[index(number)] = .open(awaiting)
    }

    /// What command `number` kept while it waited; nil if it does not wait (any more).
    mutating func take(_ number: UInt64) -> Awaiting? {
        guard number >= firstNumber, number - firstNumber < UInt64(slots.count) else { return nil }
        let place = index(number)
        guard case .open(let awaiting?) = slots[place] else { return nil }
        slots[place] = .open(nil)
        return awaiting
    }

    mutating func complete(_ number: UInt64, with value: RESPReply) {
        slots[index(number)] = .ready(value)
    }

    /// The oldest reply, if it has completed; every earlier one has been handed out.
    mutating func nextReady() -> RESPReply? {
        guard case .ready(let value) = slots.first else { return nil }
        slots.removeFirst()
        firstNumber += 1
        return value
    }
}
