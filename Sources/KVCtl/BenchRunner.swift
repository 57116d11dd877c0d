import KVClient
import KVProtocol
import KVTransport
import NIOConcurrencyHelpers
import NIOCore

/// When the measured part of a benchmark ends.
enum BenchLimit: Sendable {
    case duration(TimeAmount)
    /// Exactly this many operations are measured, shared among the sessions.
    case operations(Int)
}

/// Everything `kvctl bench` was asked to do.
struct BenchPlan: Sendable {
    var monitors: [String]
    var sessions: Int
    var connections: Int
    var workload: BenchWorkload
    var warmup: TimeAmount
    var limit: BenchLimit
    /// Each operation (retries included) gives up after this long.
    var operationTimeout: TimeAmount
    var secret: SharedSecret?
    var tls: (any ConnectionSecurity)?
}

/// What a finished run measured.
struct BenchOutcome: Sendable {
    var tally: BenchRecorder.Tally
    /// From the end of the warm-up until every session has had its last answer.
    var measured: TimeAmount
}

/// The service could not be used at all, before anything was measured.
struct BenchUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// Runs the benchmark: `sessions` client sessions (each its own client id and
/// sequence numbers) over `connections` shared connection pools.
///
/// It is a closed loop: each session sends its next operation only when the previous
/// one has been answered. A latency runs from just before the operation is handed to
/// the client to its answer, retries included. When the service stalls, the sessions
/// stop sending, so a stall is recorded once per session rather than for every request
/// an open-loop client would have sent in the meantime (coordinated omission): the
/// percentiles describe this closed loop, not a fixed offered rate.
enum BenchRunner {
    static func run(_ plan: BenchPlan) async throws -> BenchOutcome {
        let pools = (0..<plan.connections).map { _ in KVConnectionPool(secret: plan.secret, tls: plan.tls) }
        defer { for pool in pools { pool.close() } }
        let clients = (0..<plan.sessions).map { index in
            var configuration = KVClient.Configuration(monitors: plan.monitors)
            configuration.connectionPool = pools[index % pools.count]
            configuration.secret = plan.secret
            configuration.tls = plan.tls
            return KVClient(configuration: configuration)
        }
        try await checkReachable(plan, clients[0])
        if plan.workload.weight(of: .get) > 0 { try await preload(plan, clients) }

        let recorder = BenchRecorder()
        let start = NIODeadline.now()
        let measureStart = start + plan.warmup
        let tickets = NIOLockedValueBox(0)
        let isMeasured: @Sendable () -> Bool? = {
            // nil: stop; true: measure this operation; false: warm-up.
            let now = NIODeadline.now()
            if now < measureStart { return false }
            switch plan.limit {
            case .duration(let duration):
                return now < measureStart + duration ? true : nil
            case .operations(let count):
                return tickets.withLockedValue { taken in
                    guard taken < count else { return nil }
                    taken += 1
                    return true
                }
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask {
                    var system = SystemRandomNumberGenerator()
                    var random = SplitMix64(seed: system.next())
                    let value = plan.workload.makeValue(&random)
                    while let measured = isMeasured() {
                        let operation = plan.workload.pickOperation(&random)
                        let key = plan.workload.pickKey(&random)
                        let started = NIODeadline.now()
                        do {
                            let missed = try await perform(operation, key, value, client, plan)
                            if measured {
                                recorder.record(operation, latency: NIODeadline.now() - started, missed: missed)
                            }
                        } catch {
                            recorder.fail(error)
                        }
                    }
                }
            }
        }
        let measured = max(.nanoseconds(1), NIODeadline.now() - measureStart)
        return BenchOutcome(tally: recorder.snapshot, measured: measured)
    }

    /// Performs one operation; returns whether it was a get that found no value.
    private static func perform(
        _ operation: BenchOperation, _ key: Bytes, _ value: Bytes, _ client: KVClient, _ plan: BenchPlan
    ) async throws -> Bool {
        let deadline = NIODeadline.now() + plan.operationTimeout
        switch operation {
        case .get: return try await client.get(key, deadline: deadline) == nil
        case .put: try await client.put(key, value, deadline: deadline)
        case .puthash: _ = try await client.putHash(key, value, deadline: deadline)
        }
        return false
    }

    /// One get before anything else, so an unreachable service is one clear error
    /// rather than a run full of timeouts.
    private static func checkReachable(_ plan: BenchPlan, _ client: KVClient) async throws {
        do {
            _ = try await client.get(plan.workload.keys[0], deadline: NIODeadline.now() + plan.operationTimeout)
        } catch {
            throw BenchUnavailable(
                description: "the service does not answer (monitors \(plan.monitors.joined(separator: ","))): \(error)")
        }
    }

    /// Writes every key once (not measured), the keys split among the sessions, so
    /// that gets find values.
    private static func preload(_ plan: BenchPlan, _ clients: [KVClient]) async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask {
                        var random = SplitMix64(seed: UInt64(index) &+ 0x5EED)
                        let value = plan.workload.makeValue(&random)
                        for key in stride(from: index, to: plan.workload.keys.count, by: clients.count) {
                            let deadline = NIODeadline.now() + plan.operationTimeout
                            try await client.put(plan.workload.keys[key], value, deadline: deadline)
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            throw BenchUnavailable(description: "preloading the keys failed: \(error)")
        }
    }
}
