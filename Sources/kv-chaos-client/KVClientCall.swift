import KVCheck
import KVClient
import KVProtocol
import NIOCore

extension KVClient {
    /// Performs a history's `call` and returns its answer in the history's terms.
    func perform(_ call: Call, on key: Bytes, deadline: NIODeadline) async throws -> Response {
        switch call {
        case .get: return .value(try await get(key, deadline: deadline))
        case .put(let value):
            try await put(key, value, deadline: deadline)
            return .stored
        case .putHash(let argument): return .previous(try await putHash(key, argument, deadline: deadline))
        case .delete: return .existed(try await delete(key, deadline: deadline))
        case .read, .write, .add, .remove, .range:
            // KVClient has no transactions yet; the simulator's workload runs them.
            preconditionFailure("not in the chaos workload: \(call.name)")
        }
    }
}
