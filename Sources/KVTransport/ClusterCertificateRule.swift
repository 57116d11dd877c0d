import KVProtocol

extension Message {
    /// Whether, on a TLS listener, only a peer that proved a certificate may send this.
    ///
    /// Cluster members' messages (a server's ping, a primary's forwards and transfers) and
    /// an operator's view changes: a client without a certificate (`--tls-client-auth
    /// optional`) that could send a ping would be offered the role of backup, and with it
    /// every key. Reads and writes of data, and questions about the view, stay open to it.
    public var needsClusterCertificate: Bool {
        switch self {
        case .ping, .forward, .transfer, .switchover, .revive, .adoptData:
            true
        case .hello, .helloAck, .authenticate, .authenticated, .error, .getView, .viewReply, .listServers,
            .serversReply, .switchoverReply, .notLeader, .monitorInfo, .monitorInfoReply, .request, .reply,
            .backupAck, .serverInfo, .serverInfoReply:
            false
        }
    }
}
