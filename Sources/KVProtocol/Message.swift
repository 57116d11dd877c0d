/// Every message of the wire protocol (docs/PROTOCOL.md describes their encoding).
///
/// A message is as large as its largest inline case, and every reply and request is one,
/// copied on its way through the driver and the transport. So the rare large cases (a
/// ping, a server's and a monitor's own reports, a switchover's answer) are `indirect`,
/// boxed on the heap: inline, `ServerStats` made every message 344 bytes
/// (docs/PERFORMANCE.md, "Smaller values on the hot path").
public enum Message: Equatable, Sendable {
    /// First frame a connecting peer sends.
    case hello(version: UInt16)
    /// The listener's answer to a `hello` with a version it speaks. With a shared secret
    /// configured it carries a challenge (`Authentication.nonceSize` random bytes), and
    /// the connection is usable only after `authenticate`.
    case helloAck(version: UInt16, challenge: [UInt8] = [])
    /// The connecting side's proof that it knows the shared secret, with its own nonce
    /// so that the listener proves the same in `authenticated`.
    case authenticate(nonce: [UInt8], proof: [UInt8])
    case authenticated(proof: [UInt8])
    /// A protocol-level error; the sender closes the connection after it.
    case error(code: ProtocolErrorCode, message: String)

    /// A server's heartbeat to the monitor, carrying the view number it acknowledges;
    /// `leaving` asks to be relieved of any role (the server is shutting down).
    /// `incarnation` is new at every start of the server process (0: not sent), so the
    /// monitor tells a restart from a server that merely has not learned its view yet;
    /// `claim` is what a restarted server recovered from its data directory.
    indirect case ping(
        address: String, viewnum: UInt64, leaving: Bool = false, incarnation: UInt64 = 0, claim: StateClaim? = nil)
    /// A client's request for the current view (does not register the caller).
    case getView
    case viewReply(View)
    /// An admin's request for every server the monitor knows.
    case listServers
    case serversReply(view: View, servers: [ServerInfo])
    /// An admin's request to hand the primary role to the backup, only if the view is
    /// still `viewnum` (0: whatever it is). A compare-and-swap, so a retry after a lost
    /// answer cannot switch back.
    case switchover(viewnum: UInt64)
    indirect case switchoverReply(SwitchoverReply)
    /// A monitor that does not decide views (a follower of several) answers a ping, a
    /// server list or a switchover with the leader's address (empty: none known), and a
    /// view request too when it has read no view yet.
    case notLeader(leader: String)
    /// An admin's request for a monitor's own report.
    case monitorInfo
    indirect case monitorInfoReply(MonitorStatus)
    /// An operator's explicit way out when no member of the view can be revived
    /// (`kvctl revive --accept-data-loss`): make `address` primary of the next view with
    /// whatever it holds, only if the view is still `viewnum`. Answered with a
    /// `switchoverReply`.
    case revive(address: String, viewnum: UInt64)

    case request(ClientRequest)
    case reply(ClientReply)

    case forward(ForwardBatch)
    case transfer(TransferChunk)
    case backupAck(BackupAck)

    /// An admin's request for a server's own report.
    case serverInfo
    indirect case serverInfoReply(ServerStats)
    /// The operator accepts this server's data as the state to serve, whatever it lacks:
    /// it will take the next view naming it primary (`kvctl revive`, before asking the
    /// monitor). Answered with its `serverInfoReply`.
    case adoptData

    /// The one-byte type code on the wire.
    public var typeCode: MessageType {
        switch self {
        case .hello: .hello
        case .helloAck: .helloAck
        case .authenticate: .authenticate
        case .authenticated: .authenticated
        case .error: .error
        case .ping: .ping
        case .getView: .getView
        case .viewReply: .viewReply
        case .listServers: .listServers
        case .serversReply: .serversReply
        case .switchover: .switchover
        case .switchoverReply: .switchoverReply
        case .notLeader: .notLeader
        case .monitorInfo: .monitorInfo
        case .monitorInfoReply: .monitorInfoReply
        case .revive: .revive
        case .request: .request
        case .reply: .reply
        case .forward: .forward
        case .transfer: .transfer
        case .backupAck: .backupAck
        case .serverInfo: .serverInfo
        case .serverInfoReply: .serverInfoReply
        case .adoptData: .adoptData
        }
    }
}

public enum MessageType: UInt8, Sendable, CaseIterable {
    case hello = 0x01
    case helloAck = 0x02
    case authenticate = 0x03
    case authenticated = 0x04
    case error = 0x0F
    case ping = 0x10
    case viewReply = 0x11
    case getView = 0x12
    case listServers = 0x13
    case serversReply = 0x14
    case switchover = 0x15
    case switchoverReply = 0x16
    case notLeader = 0x17
    case monitorInfo = 0x18
    case monitorInfoReply = 0x19
    case revive = 0x1A
    case request = 0x20
    case reply = 0x21
    /// 0.1's forward and transfer, without revisions or deadlines: read (a server of
    /// 0.1 may be primary while an upgraded one is its backup), never written.
    case forwardV1 = 0x30
    case transferV1 = 0x32
    case forward = 0x34
    case transfer = 0x35
    case backupAck = 0x33
    case serverInfo = 0x40
    case serverInfoReply = 0x41
    case adoptData = 0x42
}

/// A message with the id that pairs a reply with its request on one connection.
public struct Frame: Equatable, Sendable {
    public var requestID: UInt64
    public var message: Message

    public init(requestID: UInt64, message: Message) {
        self.requestID = requestID
        self.message = message
    }
}

public enum ProtocolErrorCode: UInt16, Sendable, CustomStringConvertible {
    case versionMismatch = 1
    case malformedFrame = 2
    case frameTooLarge = 3
    case unknownMessageType = 4
    case unexpectedMessage = 5
    case handshakeRequired = 6
    case overloaded = 7
    case authenticationFailed = 8

    public var description: String {
        switch self {
        case .versionMismatch: "protocol version mismatch"
        case .malformedFrame: "malformed frame"
        case .frameTooLarge: "frame too large"
        case .unknownMessageType: "unknown message type"
        case .unexpectedMessage: "unexpected message"
        case .handshakeRequired: "hello required as first frame"
        case .overloaded: "overloaded"
        case .authenticationFailed: "authentication failed"
        }
    }
}

/// Why a frame could not be decoded. Carries the code the peer is told.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: ProtocolErrorCode
    public var detail: String

    public init(_ code: ProtocolErrorCode, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}

public enum ProtocolVersion {
    /// The only version this build speaks.
    public static let current: UInt16 = 1
    /// "KVSV": the first bytes of every hello, so a stray client of another protocol is
    /// told apart from a peer of another version.
    public static let magic: [UInt8] = [0x4B, 0x56, 0x53, 0x56]
}
