/// The outcome of a data request.
public enum ReplyStatus: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Done; `value` is the value (get) or the previous value (puthash).
    case ok = 0
    /// The key does not exist (get, delete).
    case noKey = 1
    /// This server is not the primary of the current view, or its backup refused it:
    /// fetch the view and try the primary.
    case wrongServer = 2
    /// The primary cannot answer now (state transfer to a new backup, no confirmed view
    /// yet, queue full): retry after a pause.
    case retryLater = 3
    /// A retry of a request older than the client's latest one: never applied again.
    case staleRequest = 4
    /// The request can never succeed as sent (oversized key or value, ...). `value` holds
    /// the reason as UTF-8.
    case invalid = 5

    public var description: String {
        switch self {
        case .ok: "ok"
        case .noKey: "no such key"
        case .wrongServer: "wrong server"
        case .retryLater: "retry later"
        case .staleRequest: "stale request"
        case .invalid: "invalid request"
        }
    }
}

public struct ClientReply: Equatable, Sendable {
    public var status: ReplyStatus
    public var value: Bytes
    /// A transaction's outcome (status `.ok`).
    public var outcome: TxnOutcome? {
        get { outcomeStorage.first }
        set { outcomeStorage = newValue.map { [$0] } ?? [] }
    }
    /// Held in an array, empty for every other reply: a reply is copied through every
    /// queue of the hot path, and an inline outcome would make each copy four words longer.
    private var outcomeStorage: [TxnOutcome] = []

    public init(status: ReplyStatus, value: Bytes = []) {
        self.status = status
        self.value = value
    }

    public init(outcome: TxnOutcome) {
        self.status = .ok
        self.value = []
        self.outcomeStorage = [outcome]
    }

    public static let wrongServer = ClientReply(status: .wrongServer)
    public static let retryLater = ClientReply(status: .retryLater)
}
