import KVProtocol
import KVTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One multiplexed connection per server address, shared by any number of `KVClient`
/// sessions (`KVClient.Configuration.connectionPool`). Each session keeps its own client
/// id and sequence numbers; only the sockets are shared. Requests carry request ids on
/// the wire, so the sessions' requests interleave on one connection.
///
/// A connection that closes or fails is forgotten and the next request reconnects; the
/// failure reaches only the requests that were in flight on it, and their sessions
/// retry as they do on their own connections. A request that times out does not close
/// the connection while other requests on it are being answered (other sessions are
/// using it); it is closed when nothing came back on it for a whole attempt.
///
/// In-flight requests per address are bounded by `maxInFlight`. Each session has at most
/// one operation in flight, so N sessions put at most N requests in flight on a
/// connection; the bound matters only when more sessions than that share the pool, and
/// then a request waits for a free slot (within its own timeout) instead of queueing
/// without limit in the connection.
public final class KVConnectionPool: Sendable {
    private enum Link {
        case connecting(attempt: UInt64, EventLoopFuture<KVConnection>)
        case connected(KVConnection)
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Entry {
        var link: Link?
        /// Answers received on the current connection, to tell a slow request from a dead link.
        var replies: UInt64 = 0
        var inFlight = 0
        var waiters: [Waiter] = []
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextID: UInt64 = 1
        var closed = false
    }

    public let maxInFlight: Int
    private let group: any EventLoopGroup
    private let secret: SharedSecret?
    private let tls: (any ConnectionSecurity)?
    private let state = NIOLockedValueBox(State())

    public init(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxInFlight: Int = 4096,
        secret: SharedSecret? = nil, tls: (any ConnectionSecurity)? = nil
    ) {
        precondition(maxInFlight > 0, "maxInFlight must be positive")
        self.group = group
        self.maxInFlight = maxInFlight
        self.secret = secret
        self.tls = tls
    }

    /// Sends `message` to `address` over the shared connection and returns the reply, or
    /// fails after `timeout` (waiting for a slot and connecting included).
    public func request(_ message: Message, to address: String, timeout: TimeAmount) async throws -> Message {
        let deadline = NIODeadline.now() + timeout
        try await acquireSlot(address, deadline: deadline)
        defer { releaseSlot(address) }
        let connection = try await connection(to: address, timeout: remaining(until: deadline))
        let repliesBefore = replies(on: connection)
        do {
            let reply = try await connection.request(message, timeout: remaining(until: deadline)).get()
            noteReply(on: connection)
            return reply
        } catch TransportError.timedOut where connection.isActive && replies(on: connection) != repliesBefore {
            throw TransportError.timedOut
        } catch {
            drop(connection)
            throw error
        }
    }

    /// The connection to `address` if one is open now (for tests and diagnostics).
    public func currentConnection(to address: String) -> KVConnection? {
        state.withLockedValue { state in
            guard case .connected(let connection) = state.entries[address]?.link else { return nil }
            return connection
        }
    }

    /// Closes every connection; requests in flight fail, later ones fail at once with
    /// `KVClientError.connectionPoolClosed`. Idempotent.
    public func close() {
        let (connections, waiters) = state.withLockedValue { state -> ([KVConnection], [Waiter]) in
            state.closed = true
            var connections: [KVConnection] = []
            var waiters: [Waiter] = []
            for entry in state.entries.values {
                if case .connected(let connection) = entry.link { connections.append(connection) }
                waiters += entry.waiters
            }
            state.entries.removeAll()
            return (connections, waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: KVClientError.connectionPoolClosed) }
        for connection in connections { connection.close() }
    }

    // MARK: - Connections

    private enum ConnectStep {
        case ready(KVConnection)
        case wait(EventLoopFuture<KVConnection>)
        case start(EventLoopPromise<KVConnection>)
    }

    /// The open connection to `address`, or the one being opened: concurrent sessions
    /// asking at once share a single connection attempt.
    private func connection(to address: String, timeout: TimeAmount) async throws -> KVConnection {
        let step = try state.withLockedValue { state -> ConnectStep in
            guard !state.closed else { throw KVClientError.connectionPoolClosed }
            switch state.entries[address]?.link {
            case .connected(let connection) where connection.isActive:
                return .ready(connection)
            case .connecting(_, let future):
                return .wait(future)
            case .connected, nil:
                let attempt = state.nextID
                state.nextID += 1
                let promise = group.next().makePromise(of: KVConnection.self)
                // Registered before any other session can see the future, so the connection
                // is installed before a waiter resumes (the promise is not complete yet, so
                // this does not run now, under the lock).
                promise.futureResult.whenComplete { result in
                    self.install(result, attempt: attempt, address: address)
                }
                state.entries[address, default: Entry()].link = .connecting(attempt: attempt, promise.futureResult)
                state.entries[address]?.replies = 0
                return .start(promise)
            }
        }
        switch step {
        case .ready(let connection):
            return connection
        case .wait(let future):
            return try await future.get()
        case .start(let promise):
            // Connected outside the lock: NIO may complete the future on this thread.
            KVConnection.connect(to: address, group: group, timeout: timeout, secret: secret, tls: tls)
                .cascade(to: promise)
            return try await promise.futureResult.get()
        }
    }

    private func install(_ result: Result<KVConnection, any Error>, attempt: UInt64, address: String) {
        let connection = try? result.get()
        let installed = state.withLockedValue { state -> Bool in
            guard case .connecting(attempt, _) = state.entries[address]?.link else { return false }
            state.entries[address]?.link = connection.map { .connected($0) }
            return connection != nil && !state.closed
        }
        // A pool closed while connecting must not leave the new connection open.
        if let connection, !installed { connection.close() }
    }

    private func drop(_ connection: KVConnection) {
        state.withLockedValue { state in
            if case .connected(let current) = state.entries[connection.peer]?.link, current === connection {
                state.entries[connection.peer]?.link = nil
            }
        }
        connection.close()
    }

    private func replies(on connection: KVConnection) -> UInt64 {
        state.withLockedValue { state in
            guard case .connected(let current) = state.entries[connection.peer]?.link, current === connection else {
                return 0
            }
            return state.entries[connection.peer]?.replies ?? 0
        }
    }

    private func noteReply(on connection: KVConnection) {
        state.withLockedValue { state in
            if case .connected(let current) = state.entries[connection.peer]?.link, current === connection {
                state.entries[connection.peer]?.replies += 1
            }
        }
    }

    // MARK: - In-flight slots

    private func acquireSlot(_ address: String, deadline: NIODeadline) async throws {
        let granted = try state.withLockedValue { state -> Bool in
            guard !state.closed else { throw KVClientError.connectionPoolClosed }
            guard state.entries[address, default: Entry()].inFlight < maxInFlight else { return false }
            state.entries[address, default: Entry()].inFlight += 1
            return true
        }
        if granted { return }
        let id = state.withLockedValue { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enum Outcome { case granted, closed, queued }
            let outcome = state.withLockedValue { state -> Outcome in
                guard !state.closed else { return .closed }
                if state.entries[address, default: Entry()].inFlight < maxInFlight {
                    state.entries[address, default: Entry()].inFlight += 1
                    return .granted
                }
                state.entries[address, default: Entry()].waiters.append(Waiter(id: id, continuation: continuation))
                return .queued
            }
            switch outcome {
            case .granted: continuation.resume()
            case .closed: continuation.resume(throwing: KVClientError.connectionPoolClosed)
            case .queued:
                group.next().scheduleTask(deadline: deadline) { self.abandonWait(id, address: address) }
            }
        }
    }

    private func abandonWait(_ id: UInt64, address: String) {
        let waiter = state.withLockedValue { state -> Waiter? in
            guard let index = state.entries[address]?.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.entries[address]?.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: TransportError.timedOut)
    }

    /// Hands the slot to the longest waiter, if any, else frees it.
    private func releaseSlot(_ address: String) {
        let next = state.withLockedValue { state -> Waiter? in
            guard state.entries[address] != nil else { return nil }
            if state.entries[address]!.waiters.isEmpty {
                state.entries[address]!.inFlight -= 1
                return nil
            }
            return state.entries[address]!.waiters.removeFirst()
        }
        next?.continuation.resume()
    }

    private func remaining(until deadline: NIODeadline) -> TimeAmount {
        max(.milliseconds(1), deadline - NIODeadline.now())
    }
}
