import CSystemd

/// Listening sockets passed by systemd (socket activation, `sd_listen_fds_with_names(3)`).
public struct PassedSocket: Sendable, Equatable {
    public var fd: Int32
    /// `FileDescriptorName=` of the socket unit ("unknown" when not set).
    public var name: String
}

public struct PassedSocketError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

public enum PassedSockets {
    /// The sockets passed to this process, each checked to be a listening TCP socket
    /// (IPv4 or IPv6). Anything else is refused with an error naming the fd, so a unit
    /// with a wrong `ListenStream=`/`ListenDatagram=` fails loudly at start. Returns an
    /// empty array when nothing was passed (`LISTEN_FDS` unset or for another process).
    public static func fromEnvironment() throws(PassedSocketError) -> [PassedSocket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(0, &names)
        if count < 0 {
            throw PassedSocketError(description: "cannot read the sockets passed by systemd (error \(-count))")
        }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        var sockets: [PassedSocket] = []
        for index in 0..<Int(count) {
            let fd = SD_LISTEN_FDS_START + Int32(index)
            let name = names?[index].map { String(cString: $0) } ?? "unknown"
            if sd_is_socket_inet(fd, 0, Int32(SOCK_STREAM.rawValue), 1, 0) <= 0 {
                throw PassedSocketError(
                    description: "passed socket \(fd) (\"\(name)\") is not a listening TCP socket (IPv4 or IPv6); "
                        + "check ListenStream= in the socket unit")
            }
            sockets.append(PassedSocket(fd: fd, name: name))
        }
        return sockets
    }

    /// The socket to serve the kvservice protocol on: the one named `name` if several
    /// were passed, else the only one. Nil when nothing was passed.
    public static func protocolSocket(named name: String, in sockets: [PassedSocket])
        throws(PassedSocketError) -> PassedSocket?
    {
        if sockets.isEmpty { return nil }
        if let named = sockets.first(where: { $0.name == name }) { return named }
        if sockets.count == 1 { return sockets[0] }
        throw PassedSocketError(
            description: "\(sockets.count) sockets passed (\(sockets.map(\.name).joined(separator: ", "))) "
                + "and none is named \"\(name)\"; set FileDescriptorName=\(name) on the protocol socket")
    }
}
