import ServerCore

/// What a log holds after its header: the core's durable records, and a mark at each
/// start of a server process.
public enum LogRecord: Equatable, Sendable {
    case start(ServerStart)
    case record(DurableRecord)
}
