import KVProtocol

/// Everything that can happen to the monitor. Requests carry the token their answer is
/// owed under (see `MonitorEffect.reply`).
public enum MonitorEvent: Sendable {
    /// A server's heartbeat; `leaving` asks to be relieved of any role (a graceful stop);
    /// `incarnation` changes at every start of the server (0: unknown) and `claim` is what
    /// a restarted server recovered from disk (see `Message.ping`).
    case ping(
        from: String, viewnum: UInt64, leaving: Bool, incarnation: UInt64 = 0, claim: StateClaim? = nil, ReplyToken)
    /// A client or an admin asks for the view; it does not register as a server.
    case viewRequest(ReplyToken)
    /// An admin asks for every server the monitor knows.
    case serversRequest(ReplyToken)
    /// An admin asks to hand the primary role to the backup, if the view is still
    /// `expectedViewnum`.
    case switchover(expectedViewnum: UInt64, ReplyToken)
    /// An operator makes `address` primary of the next view with whatever it holds, if the
    /// view is still `expectedViewnum` (`kvctl revive --accept-data-loss`).
    case revive(address: String, expectedViewnum: UInt64, ReplyToken)
    /// One ping interval has passed.
    case tick
    /// The view asked for by `MonitorEffect.saveView` is durable.
    case viewSaved(View)
    /// The view asked for by `MonitorEffect.saveView` could not be saved.
    case viewNotSaved(View, error: String)
}

/// What the driver must do.
public enum MonitorEffect: Equatable, Sendable {
    /// Answer the request of `token` with this message.
    case reply(ReplyToken, Message)
    /// Make `view` durable, then report `.viewSaved` (or `.viewNotSaved`). The core asks
    /// for one save at a time and hands the view out only once it is saved.
    case saveView(View)
    /// Something worth a log record.
    case notice(MonitorNotice)
}
