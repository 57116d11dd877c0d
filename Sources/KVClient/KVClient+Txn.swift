import ClientCore
import KVProtocol
import NIOCore

/// A key's value as the primary holds it, with its revision and deadline, and the
/// primary's clock when it read it (so a deadline becomes time left without trusting
/// this machine's clock).
public struct KVEntry: Equatable, Sendable {
    public var key: Bytes
    public var value: Bytes
    /// The store revision of the update that last changed the key.
    public var revision: UInt64
    /// Unix time in milliseconds from which the key is gone; nil without a deadline.
    public var expiresAt: UInt64?
    /// The primary's clock when it answered, in Unix milliseconds.
    public var now: UInt64

    public init(key: Bytes, stored: StoredValue, now: UInt64) {
        self.key = key
        self.value = stored.value
        self.revision = stored.revision
        self.expiresAt = stored.hasDeadline ? stored.expiresAt : nil
        self.now = now
    }

    /// Milliseconds left before the key expires (by the primary's clock); nil without a
    /// deadline.
    public var expiresIn: UInt64? { expiresAt.map { $0 > now ? $0 - now : 0 } }
}

/// When a conditional `put` applies.
public enum PutCondition: Equatable, Sendable {
    case always
    /// Only if the key does not exist (SET NX).
    case ifAbsent
    /// Only if the key exists (SET XX).
    case ifPresent
    /// Only if the key's revision is this one (0: the key does not exist): a
    /// compare-and-swap on what a read returned.
    case ifRevision(UInt64)
    /// Only if the key exists with this value.
    case ifValue(Bytes)

    func compares(_ key: Bytes) -> [Compare] {
        switch self {
        case .always: []
        case .ifAbsent: [.absent(key)]
        case .ifPresent: [.exists(key)]
        case .ifRevision(let revision): [Compare(key: key, .revision(revision), .equal)]
        case .ifValue(let value): [Compare(key: key, .value(value), .equal)]
        }
    }
}

/// A key's time to live.
public enum KVTimeToLive: Equatable, Sendable {
    /// The key does not exist.
    case absent
    /// The key exists and has no deadline.
    case noDeadline
    /// The key expires in this many milliseconds (by the primary's clock).
    case remaining(milliseconds: UInt64)
}

extension KVClient {
    // MARK: - Transactions

    /// Runs a transaction (etcd's Txn: compares, then the success or the failure
    /// operations) as one linearizable update, at most once however often it is retried.
    /// Throws `KVClientError.invalid` for a transaction the service would refuse as sent
    /// (too deep, too many items, a key or value over its limit, a frame over 16 MiB).
    public func txn(_ txn: Txn, deadline: NIODeadline? = nil) async throws -> TxnOutcome {
        if let problem = txn.sendingProblem { throw KVClientError.invalid(problem) }
        let reply = try await perform(deadline: deadline) { core, deadline, now in
            core.start(txn, deadline: deadline, at: now)
        }
        guard let outcome = reply.outcome else {
            throw KVClientError.unexpectedAnswer("a transaction answered \(reply.status) without an outcome")
        }
        return outcome
    }

    /// The one result of a transaction of one operation.
    private func result(of op: TxnOp, deadline: NIODeadline?) async throws -> (TxnOpResult, now: UInt64) {
        let outcome = try await txn(Txn(success: [op]), deadline: deadline)
        guard let result = outcome.results.first else { throw Self.unexpected(outcome.results) }
        return (result, outcome.now)
    }

    static func unexpected(_ results: [TxnOpResult]) -> KVClientError {
        .unexpectedAnswer("results \(results)")
    }

    // MARK: - Conveniences

    /// `key`'s value, revision and deadline, or nil if it does not exist.
    public func entry(_ key: Bytes, deadline: NIODeadline? = nil) async throws -> KVEntry? {
        let (result, now) = try await result(of: .get(key), deadline: deadline)
        guard case .value(let stored) = result else { throw Self.unexpected([result]) }
        return stored.map { KVEntry(key: key, stored: $0, now: now) }
    }

    /// Sets `key` to `value` if `condition` holds; returns whether it did. With `ttl`
    /// (positive; counted in whole milliseconds, rounded up), the key is gone that long
    /// after the primary applies the put; without one, any deadline the key had is
    /// removed (as Redis's SET).
    @discardableResult
    public func put(
        _ key: Bytes, _ value: Bytes, ttl: TimeAmount?, condition: PutCondition = .always,
        deadline: NIODeadline? = nil
    ) async throws -> Bool {
        if let ttl, ttl <= .zero { throw KVClientError.invalid("a time to live of \(ttl) (it must be positive)") }
        let expiry: Expiry =
            ttl.map { ttl in
                let (milliseconds, rest) = ttl.nanoseconds.quotientAndRemainder(dividingBy: 1_000_000)
                return .after(UInt64(milliseconds) + (rest > 0 ? 1 : 0))
            } ?? .never
        let put = TxnOp.put(key, value: value, expiry: expiry, returnPrevious: false)
        return try await txn(Txn(compares: condition.compares(key), success: [put]), deadline: deadline).succeeded
    }

    /// Adds `amount` to the key's value read as a decimal 64-bit integer (a missing key
    /// counts as 0), keeping its deadline; returns the new value. Throws
    /// `KVClientError.operationFailed` when the value is not an integer or would overflow.
    @discardableResult
    public func increment(_ key: Bytes, by amount: Int64 = 1, deadline: NIODeadline? = nil) async throws -> Int64 {
        switch try await result(of: .add(key, amount), deadline: deadline).0 {
        case .integer(let value): return value
        case .error(let error): throw KVClientError.operationFailed(error)
        case let other: throw Self.unexpected([other])
        }
    }

    /// How long `key` has left.
    public func ttl(_ key: Bytes, deadline: NIODeadline? = nil) async throws -> KVTimeToLive {
        Self.timeToLive(try await entry(key, deadline: deadline))
    }

    /// Removes `key`'s deadline; returns the time to live it had (`.noDeadline`: there was
    /// nothing to remove; `.absent`: there is no such key).
    @discardableResult
    public func persist(_ key: Bytes, deadline: NIODeadline? = nil) async throws -> KVTimeToLive {
        let outcome = try await txn(
            Txn(success: [.get(key), .expire(key, .never, .always)]), deadline: deadline)
        guard outcome.results.count == 2, case .value(let stored) = outcome.results[0] else {
            throw Self.unexpected(outcome.results)
        }
        return Self.timeToLive(stored.map { KVEntry(key: key, stored: $0, now: outcome.now) })
    }

    private static func timeToLive(_ entry: KVEntry?) -> KVTimeToLive {
        guard let entry else { return .absent }
        return entry.expiresIn.map { .remaining(milliseconds: $0) } ?? .noDeadline
    }

    /// The keys read together, at one point in time for each group of `mgetBatch` keys
    /// (each group is one transaction); nil for a key that does not exist.
    public func mget(_ keys: [Bytes], deadline: NIODeadline? = nil) async throws -> [KVEntry?] {
        var entries: [KVEntry?] = []
        entries.reserveCapacity(keys.count)
        for start in stride(from: 0, to: keys.count, by: Self.mgetBatch) {
            let batch = keys[start..<min(start + Self.mgetBatch, keys.count)]
            let outcome = try await txn(Txn(success: batch.map { .get($0) }), deadline: deadline)
            guard outcome.results.count == batch.count else { throw Self.unexpected(outcome.results) }
            for (key, result) in zip(batch, outcome.results) {
                guard case .value(let stored) = result else { throw Self.unexpected([result]) }
                entries.append(stored.map { KVEntry(key: key, stored: $0, now: outcome.now) })
            }
        }
        return entries
    }

    /// Keys `mget` reads in one transaction.
    public static let mgetBatch = 256
}
