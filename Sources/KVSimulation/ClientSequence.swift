/// A client's update, as the duplicate table names it: the client and the operation's
/// sequence number.
struct ClientSequence: Hashable {
    let clientID: UInt64
    let seq: UInt64
}
