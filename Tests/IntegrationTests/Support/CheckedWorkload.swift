import Foundation
import KVClient
import KVTestSupport
import XCTest

/// Client sessions that keep writing and reading while a test disturbs the cluster, and
/// count every request that failed and every write that was lost.
///
/// Each session owns its keys, so what it must read is exactly what it last wrote (or,
/// for PutHash, the hash chain it built): a read that shows anything else is a lost or
/// phantom write. A request "fails" when it throws: the client gave up within the
/// deadline. (The deadline is long, so this does not tell a planned hand-over from a
/// failover after the dead-ping timeout; tests check how a leave ended for that.)
final class CheckedWorkload: Sendable {
    struct Report: CustomStringConvertible {
        var operations: Int
        var failures: [String]
        var description: String { "\(operations) operations, \(failures.count) failed: \(failures.prefix(5))" }
    }

    private let clients: [KVClient]
    private let keysPerSession: Int
    private let deadlineSeconds: Double
    private let operations = Locked(0)
    private let failures = Locked<[String]>([])
    private let stopping = Locked(false)
    /// Per session and key, the value every later read must show.
    private let expected = Locked<[String: String]>([:])
    private let task = Locked<Task<Void, Never>?>(nil)

    init(clients: [KVClient], keysPerSession: Int = 8, deadlineSeconds: Double = 20) {
        self.clients = clients
        self.keysPerSession = keysPerSession
        self.deadlineSeconds = deadlineSeconds
    }

    var operationCount: Int { operations.get() }
    var failureCount: Int { failures.get().count }

    func start() {
        let sessions = Array(clients.enumerated())
        task.set(
            Task {
                await withTaskGroup(of: Void.self) { group in
                    for (index, client) in sessions {
                        group.addTask { await self.runSession(index, client) }
                    }
                }
            })
    }

    /// Stops the sessions after their current operation and reads back every key.
    func stop() async -> Report {
        stopping.set(true)
        await task.get()?.value
        if let reader = clients.first {
            for (key, value) in expected.get().sorted(by: { $0.key < $1.key }) {
                do {
                    let read = try await reader.get(key, within: deadlineSeconds)
                    if read != value { record("lost write: \(key) reads \(read ?? "nothing"), want \(value)") }
                } catch {
                    record("final read of \(key) failed: \(error)")
                }
            }
        }
        return Report(operations: operations.get(), failures: failures.get())
    }

    private func runSession(_ session: Int, _ client: KVClient) async {
        var step = 0
        while !stopping.get() {
            step += 1
            let key = "s\(session)-k\(step % keysPerSession)"
            let last = expected.get()[key]
            do {
                switch step % 3 {
                case 0:
                    let value = "\(session)-\(step)"
                    try await client.put(key, value, within: deadlineSeconds)
                    expected.update { $0[key] = value }
                case 1:
                    let read = try await client.get(key, within: deadlineSeconds)
                    if read != last {
                        record("stale or lost: \(key) read \(read ?? "nothing"), want \(last ?? "nothing")")
                    }
                default:
                    let previous = try await client.putHash(key, "\(step)", within: deadlineSeconds)
                    if previous != (last ?? "") { record("puthash \(key) saw \(previous), want \(last ?? "")") }
                    expected.update { $0[key] = ReferenceHash.putHash(previous: last ?? "", argument: "\(step)") }
                }
                operations.update { $0 += 1 }
            } catch {
                record("session \(session) step \(step) on \(key): \(error)")
                // The outcome is unknown; this key can no longer be checked exactly.
                expected.update { $0[key] = nil }
                return
            }
        }
    }

    private func record(_ failure: String) {
        failures.update { $0.append(failure) }
    }
}
