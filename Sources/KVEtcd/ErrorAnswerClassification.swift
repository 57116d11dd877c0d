import FoundationEssentials
import NIOCore

/// Sorts the gateway's error answers into `unavailable` (this member cannot serve now,
/// another may) and `rejected` (the request itself was refused and would be anywhere).
enum ErrorAnswerClassification {
    /// gRPC status codes that say "not now": DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (too
    /// many requests) and UNAVAILABLE (no leader, leader changed, request timed out).
    private static let transientCodes: Set<Int> = [4, 8, 14]

    /// Texts of etcd's transient errors that arrive with other codes: the gateway gives its
    /// own deadline (a lease grant on a member without quorum) HTTP 500 and code 2.
    private static let transientMessages = [
        "no leader", "leader changed", "timed out", "deadline exceeded", "too many requests", "not capable",
        "server stopped",
    ]

    /// The error a non-200 answer stands for. Its body is `{"error","message","code"}` from
    /// a unary call, `{"error":{"grpc_code","message",...}}` from a streaming one, plain
    /// text from the HTTP layer ("Not Found").
    static func error(endpoint: String, status: Int, body: ByteBuffer) -> EtcdError {
        let data = Data(body.readableBytesView)
        if let answer = try? JSONDecoder().decode(ErrorAnswer.self, from: data) {
            let text = answer.message ?? answer.error ?? Self.printable(body)
            return error(endpoint: endpoint, status: status, grpcCode: answer.code, message: text)
        }
        if let stream = try? JSONDecoder().decode(StreamErrorAnswer.self, from: data), let failure = stream.error {
            let text = failure.message ?? Self.printable(body)
            return error(endpoint: endpoint, status: status, grpcCode: failure.grpc_code, message: text)
        }
        return error(endpoint: endpoint, status: status, grpcCode: nil, message: Self.printable(body))
    }

    static func error(endpoint: String, status: Int, grpcCode: Int?, message: String) -> EtcdError {
        let lowered = message.lowercased()
        if status == 503 || grpcCode.map(transientCodes.contains) == true
            || transientMessages.contains(where: lowered.contains)
        {
            return .unavailable(endpoint: endpoint, detail: message)
        }
        return .rejected(endpoint: endpoint, status: status, detail: message)
    }

    /// Whether a non-200 answer to a revoke means that the lease is already gone (etcd:
    /// HTTP 404, NOT_FOUND, "requested lease not found"), which a revoke counts as done.
    /// A 404 from the HTTP layer (a wrong path) has no gRPC code and does not count.
    static func isLeaseNotFound(status: Int, body: ByteBuffer) -> Bool {
        guard status == 404,
            let answer = try? JSONDecoder().decode(ErrorAnswer.self, from: Data(body.readableBytesView))
        else { return false }
        return answer.code == 5 && (answer.message ?? answer.error ?? "").contains("lease not found")
    }

    /// The start of a body as text, for error details.
    static func printable(_ body: ByteBuffer) -> String {
        let text = String(decoding: body.readableBytesView.prefix(300), as: UTF8.self)
        let trimmed = text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
        return trimmed.isEmpty ? "(empty answer)" : String(trimmed)
    }
}
