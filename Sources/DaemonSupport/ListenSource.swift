import KVSystemd
import KVTransport

/// Where a daemon accepts connections: the socket systemd passed (socket activation),
/// else `--listen`.
public enum ListenSource {
    /// The name a socket unit gives the protocol socket (`FileDescriptorName=`), needed
    /// only when several sockets are passed.
    public static let protocolSocketName = "kvservice"

    public static func resolve(listen: PeerAddress) throws -> (source: FrameListener.Source, description: String) {
        let passed = try PassedSockets.fromEnvironment()
        if let socket = try PassedSockets.protocolSocket(named: protocolSocketName, in: passed) {
            return (.inherited(fd: socket.fd), "socket passed by systemd (fd \(socket.fd), \"\(socket.name)\")")
        }
        return (.bind(listen), listen.description)
    }
}
