import KVCheck
import KVProtocol
import MonitorCore
import ServerCore

/// One thing that happened in a simulation, kept as data until it is shown.
enum TraceEntry {
    case sent(Packet, copies: Int)
    case lost(Packet, why: String)
    case timedOut(exchange: UInt64, requester: Int)
    case serverNotice(Int, ServerNotice)
    case monitorNotice(String, MonitorNotice)
    case electionNotice(String, ElectionNotice)
    case operationStarted(client: Int, HistoryOperation)
    case operationEnded(client: Int, HistoryOperation)
    case note(String)

    func text(names: [String]) -> String {
        switch self {
        case .sent(let packet, let copies):
            let arrow = copies == 2 ? "=>>" : "->"
            return
                "\(names[packet.from]) \(arrow) \(names[packet.to]) #\(packet.exchange) \(Self.describe(packet.body))"
        case .lost(let packet, let why):
            return "\(names[packet.from]) -x \(names[packet.to]) #\(packet.exchange) \(Self.describe(packet.body)) "
                + "(lost: \(why))"
        case .timedOut(let exchange, let requester):
            return "\(names[requester]) #\(exchange) timed out"
        case .serverNotice(let node, let notice):
            return "\(names[node]): \(notice)"
        case .monitorNotice(let monitor, let notice):
            return "\(monitor): \(notice)"
        case .electionNotice(let monitor, let notice):
            return "\(monitor): \(notice)"
        case .operationStarted(let client, let operation):
            return "\(names[client]) invokes \(operation.call.name) \(Self.show(operation.key))"
        case .operationEnded(let client, let operation):
            return "\(names[client]) \(operation)"
        case .note(let text):
            return text
        }
    }

    /// Keys and values in the simulation are short ASCII text.
    private static func show(_ bytes: Bytes) -> String { "\"\(bytes.utf8String)\"" }

    static func describe(_ body: Packet.Body) -> String {
        switch body {
        case .request(let message): describe(message)
        case .response(let message): "reply " + describe(message)
        case .refused: "connection refused"
        }
    }

    static func describe(_ message: Message) -> String {
        switch message {
        case .ping(_, let viewnum, let leaving, _, let claim):
            "ping \(viewnum)" + (leaving ? " leaving" : "") + (claim.map { " claiming \($0)" } ?? "")
        case .getView: "get view"
        case .viewReply(let view): "\(view)"
        case .switchover(let viewnum): "switchover from \(viewnum)"
        case .switchoverReply(let reply): "switchover \(reply.status): \(reply.view)"
        case .request(let request) where request.op == .txn:
            "txn of \(request.txn?.keys.map(show).joined(separator: " ") ?? "nothing")"
                + " (client \(request.clientID) seq \(request.seq))"
        case .request(let request):
            "\(request.op) \(show(request.key))"
                + (request.op == .get || request.op == .delete ? "" : " \(show(request.value))")
                + " (client \(request.clientID) seq \(request.seq))"
        case .reply(let reply):
            "\(reply.status)" + (reply.value.isEmpty ? "" : " \(show(reply.value))")
                + (reply.outcome.map { " (\($0.succeeded ? "succeeded" : "failed"), revision \($0.revision))" } ?? "")
        case .forward(let batch):
            "forward view \(batch.viewnum) transfer \(batch.transferID) batch \(batch.batchSeq) "
                + "(\(batch.updates.count) updates)"
        case .transfer(let chunk):
            "chunk \(chunk.index) view \(chunk.viewnum) transfer \(chunk.transferID)" + (chunk.isLast ? " last" : "")
                + " (\(chunk.entries.count) keys, \(chunk.duplicates.count) duplicates)"
        case .backupAck(let ack): "\(ack.verdict) (backup in view \(ack.backupViewnum))"
        default: "\(message.typeCode)"
        }
    }
}
