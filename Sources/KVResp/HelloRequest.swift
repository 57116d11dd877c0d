import KVProtocol

/// HELLO [protover [AUTH username password] [SETNAME name]], read as Redis 7 reads it.
struct HelloRequest: Equatable, Sendable {
    /// The protocol to speak from now on; nil keeps the current one.
    var version: RESPProtocol?
    /// AUTH's username and password: authenticates the connection first.
    var credentials: (user: Bytes, password: Bytes)?

    init(version: RESPProtocol? = nil, credentials: (user: Bytes, password: Bytes)? = nil) {
        self.version = version
        self.credentials = credentials
    }

    static func == (lhs: HelloRequest, rhs: HelloRequest) -> Bool {
        lhs.version == rhs.version && lhs.credentials?.user == rhs.credentials?.user
            && lhs.credentials?.password == rhs.credentials?.password
    }

    static func parse(_ arguments: CommandArguments) throws(CommandError) -> HelloRequest {
        var request = HelloRequest()
        guard arguments.count > 0 else { return request }
        guard let number = CommandArguments.integer(arguments[0]) else {
            throw CommandError(.error("ERR Protocol version is not an integer or out of range"))
        }
        guard let version = RESPProtocol(rawValue: number) else { throw CommandError(RedisError.unsupportedProtocol) }
        request.version = version
        var index = 1
        while index < arguments.count {
            let more = arguments.count - 1 - index
            switch arguments.word(index) {
            case "AUTH" where more >= 2:
                request.credentials = (arguments[index + 1], arguments[index + 2])
                index += 3
            case "SETNAME" where more >= 1:
                index += 2
            default:
                throw CommandError(.error("ERR Syntax error in HELLO option '\(RESPCommand.shown(arguments[index]))'"))
            }
        }
        return request
    }
}
