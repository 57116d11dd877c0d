import NIOCore

/// Puts replies back in the order their commands arrived: a pipelining client matches
/// replies to commands by position only, while commands complete in any order (a GET
/// answered from the server's state may finish before an earlier SET the backup has not
/// confirmed yet).
struct ReplySequencer {
    /// One place per command not yet answered, oldest first; nil until it completes.
    private var slots = CircularBuffer<RESPReply?>()
    /// The number of `slots.first`; numbers grow by one per command.
    private var firstNumber: UInt64 = 0

    /// Commands reserved and not yet handed out.
    var count: Int { slots.count }
    var isEmpty: Bool { slots.isEmpty }

    /// A place for the next command's reply.
    mutating func reserve() -> UInt64 {
        slots.append(nil)
        return firstNumber + UInt64(slots.count - 1)
    }

    mutating func complete(_ number: UInt64, with value: RESPReply) {
        precondition(number >= firstNumber && number - firstNumber < UInt64(slots.count), "no such reply slot")
        slots[slots.index(slots.startIndex, offsetBy: Int(number - firstNumber))] = value
    }

    /// The oldest reply, if it has completed; every earlier one has been handed out.
    mutating func nextReady() -> RESPReply? {
        guard let first = slots.first, let value = first else { return nil }
        slots.removeFirst()
        firstNumber += 1
        return value
    }
}
