import KVProtocol

/// A message on the simulated network, between two nodes, belonging to one
/// request/response exchange.
struct Packet {
    enum Body {
        case request(Message)
        case response(Message)
        /// The destination process is not running: the connection attempt is refused,
        /// as a TCP reset tells a real peer at once.
        case refused
    }

    let from: Int
    let to: Int
    let exchange: UInt64
    let body: Body
}
