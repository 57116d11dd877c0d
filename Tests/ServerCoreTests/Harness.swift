import XCTest

@testable import KVProtocol
@testable import ServerCore

func b(_ string: String) -> Bytes { Bytes(utf8: string) }

extension SplitMix64 {
    /// True `percent` times in a hundred.
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// A message a primary sent to its backup, held by the simulated network.
struct Envelope {
    let from: String
    let to: String
    let id: BackupMessageID
    let message: Message

    var chunk: TransferChunk? {
        if case .transfer(let chunk) = message { return chunk }
        return nil
    }
    var batch: ForwardBatch? {
        if case .forward(let batch) = message { return batch }
        return nil
    }
}

/// A backup's answer on its way back to the primary.
struct Answer {
    let to: String
    let id: BackupMessageID
    let ack: BackupAck
}

/// Drives several `ServerCore`s step by step. Effects are collected; messages between
/// primary and backup wait in `toBackup` / `toPrimary` until a test delivers, drops,
/// duplicates or reorders them.
final class Harness {
    var cores: [String: ServerCore] = [:]
    var toBackup: [Envelope] = []
    /// Every forward batch any primary sent (resends included), in order.
    var sentBatches: [ForwardBatch] = []
    var toPrimary: [Answer] = []
    /// Every reply each token got, in order (a correct core replies once per token).
    var replies: [ReplyToken: [ClientReply]] = [:]
    var replyOrder: [ReplyToken] = []
    var pings: [String: [UInt64]] = [:]
    var notices: [String: [ServerNotice]] = [:]
    /// Records handed to the log, and snapshots asked for, by server.
    var logged: [String: [(lsn: UInt64, record: DurableRecord)]] = [:]
    var snapshots: [String: [UInt64]] = [:]
    /// Answers to forwards and chunks a test injected by hand.
    var directAnswers: [ReplyToken: BackupAck] = [:]
    private var routes: [ReplyToken: (primary: String, id: BackupMessageID)] = [:]
    private var nextToken: UInt64 = 1
    private var nextSeq: [UInt64: UInt64] = [:]
    /// The wall clock every step is taken at (Unix milliseconds); tests of expiry move it.
    var clock: UInt64 = 1_767_225_600_000
    /// Each server's lease clock (nanoseconds), for the tests of read leases; a server
    /// without one steps without (and never waits after it starts).
    var leaseClock: [String: UInt64] = [:]

    init(_ addresses: [String], configure: (inout ServerConfig) -> Void = { _ in }) {
        for address in addresses { add(address, configure: configure) }
    }

    /// Adds (or replaces, as a restart does) a server with an empty core.
    ///
    /// Unless `configure` says otherwise, every batch leaves as soon as the window has
    /// room (no gathering behind the batch in flight), so a test can follow each request's
    /// own batch; ForwardingTests and the simulator cover gathering.
    func add(
        _ address: String, recovered: RecoveredData? = nil, configure: (inout ServerConfig) -> Void = { _ in }
    ) {
        var config = ServerConfig(address: address)
        config.pipelineAfterUpdates = 0
        configure(&config)
        cores[address] = ServerCore(config: config, recovered: recovered, startedAt: leaseClock[address])
    }

    /// The log of `address` reports every record up to `lsn` (default: all) on disk.
    @discardableResult
    func persist(_ address: String, upTo lsn: UInt64? = nil) -> [ServerEffect] {
        step(address, .persisted(upTo: lsn ?? cores[address]!.lastLSN))
    }

    subscript(_ address: String) -> ServerCore { cores[address]! }

    func token() -> ReplyToken {
        defer { nextToken += 1 }
        return ReplyToken(nextToken)
    }

    @discardableResult
    func step(_ address: String, _ event: ServerEvent) -> [ServerEffect] {
        let effects =
            leaseClock[address].map { cores[address]!.step(event, now: clock, clock: $0) }
            ?? cores[address]!.step(event, now: clock)
        for effect in effects {
            switch effect {
            case .reply(let token, let reply):
                replies[token, default: []].append(reply)
                replyOrder.append(token)
            case .answerPrimary(let token, let ack):
                if let route = routes.removeValue(forKey: token) {
                    toPrimary.append(Answer(to: route.primary, id: route.id, ack: ack))
                } else {
                    directAnswers[token] = ack
                }
            case .sendToBackup(let to, let id, let message):
                if case .forward(let batch) = message { sentBatches.append(batch) }
                toBackup.append(Envelope(from: address, to: to, id: id, message: message))
            case .ping(let viewnum, _):
                pings[address, default: []].append(viewnum)
            case .notice(let notice):
                notices[address, default: []].append(notice)
            case .persist(let record, let lsn):
                logged[address, default: []].append((lsn, record))
            case .persistUpdates(let updates, let firstLSN):
                for (index, update) in updates.enumerated() {
                    logged[address, default: []].append((firstLSN + UInt64(index), .update(update)))
                }
            case .persistSnapshot(let lsn):
                snapshots[address, default: []].append(lsn)
            }
        }
        return effects
    }

    // MARK: Views and time

    func view(
        _ viewnum: UInt64, _ primary: String, _ backup: String = "", acked: Bool = false, cluster: UInt64 = 0,
        to: [String]? = nil
    ) {
        let view = View(viewnum: viewnum, primary: primary, backup: backup, acked: acked, cluster: cluster)
        for address in to ?? cores.keys.sorted() { step(address, .viewFromMonitor(view)) }
    }

    @discardableResult
    func tick(_ address: String) -> [ServerEffect] { step(address, .tick) }

    func tick(_ address: String, times: Int) {
        for _ in 0..<times { tick(address) }
    }

    // MARK: Clients

    @discardableResult
    func request(
        _ address: String, _ op: KVProtocol.Operation, _ key: String, _ value: String = "", client: UInt64 = 1,
        seq: UInt64? = nil
    ) -> ReplyToken {
        request(address, op, b(key), b(value), client: client, seq: seq)
    }

    @discardableResult
    func request(
        _ address: String, _ op: KVProtocol.Operation, _ key: Bytes, _ value: Bytes, client: UInt64 = 1,
        seq: UInt64? = nil
    ) -> ReplyToken {
        let seq =
            seq
            ?? {
                nextSeq[client, default: 0] += 1; return nextSeq[client]!
            }()
        nextSeq[client] = max(nextSeq[client] ?? 0, seq)
        let token = token()
        step(address, .clientRequest(ClientRequest(op: op, clientID: client, seq: seq, key: key, value: value), token))
        return token
    }

    /// Sends a transaction as client `client`'s next request (or as `seq`).
    @discardableResult
    func txn(_ address: String, _ txn: Txn, client: UInt64 = 1, seq: UInt64? = nil) -> ReplyToken {
        let seq = seq ?? (nextSeq[client, default: 0] + 1)
        nextSeq[client] = max(nextSeq[client] ?? 0, seq)
        let token = token()
        step(address, .clientRequest(ClientRequest(txn: txn, clientID: client, seq: seq), token))
        return token
    }

    /// The one reply `token` got, or nil; fails on more than one.
    func reply(_ token: ReplyToken, file: StaticString = #filePath, line: UInt = #line) -> ClientReply? {
        let all = replies[token] ?? []
        XCTAssertLessThanOrEqual(all.count, 1, "token \(token) answered \(all.count) times", file: file, line: line)
        return all.first
    }

    // MARK: Network

    /// Delivers `envelope` to its backup (leaving `toBackup` alone).
    @discardableResult
    func inject(_ envelope: Envelope) -> [ServerEffect] {
        guard cores[envelope.to] != nil else { return [] }
        let token = token()
        routes[token] = (envelope.from, envelope.id)
        switch envelope.message {
        case .forward(let batch): return step(envelope.to, .forward(batch, token))
        case .transfer(let chunk): return step(envelope.to, .transfer(chunk, token))
        default:
            XCTFail("unexpected message to a backup: \(envelope.message)")
            return []
        }
    }

    @discardableResult
    func deliverToBackup(at index: Int = 0) -> [ServerEffect] { inject(toBackup.remove(at: index)) }

    /// Removes the message without delivering it or telling the sender.
    @discardableResult
    func dropToBackup(at index: Int = 0) -> Envelope { toBackup.remove(at: index) }

    /// Removes the message and tells the sender the transport gave up on it.
    func failToBackup(at index: Int = 0) {
        let envelope = toBackup.remove(at: index)
        step(envelope.from, .backupReplied(envelope.id, nil))
    }

    @discardableResult
    func deliverToPrimary(at index: Int = 0) -> [ServerEffect] {
        let answer = toPrimary.remove(at: index)
        guard cores[answer.to] != nil else { return [] }
        return step(answer.to, .backupReplied(answer.id, answer.ack))
    }

    /// Delivers every message and answer, oldest first, until none is left.
    func settle(file: StaticString = #filePath, line: UInt = #line) {
        var steps = 0
        while !toBackup.isEmpty || !toPrimary.isEmpty {
            if !toBackup.isEmpty { deliverToBackup() } else { deliverToPrimary() }
            steps += 1
            if steps > 1_000_000 {
                XCTFail("network never went quiet", file: file, line: line)
                return
            }
        }
    }

    /// Sends `message` to `address` as if from a primary; returns the backup's answer.
    func sendDirect(_ address: String, _ message: Message) -> BackupAck? {
        let token = token()
        switch message {
        case .forward(let batch): step(address, .forward(batch, token))
        case .transfer(let chunk): step(address, .transfer(chunk, token))
        default: XCTFail("not a primary-to-backup message")
        }
        return directAnswers.removeValue(forKey: token)
    }

    // MARK: Common set-ups

    /// `primary` becomes the serving primary of view 1 of a new cluster.
    func bootFirstPrimary(_ primary: String) {
        view(1, primary, to: [primary])
        tick(primary)
        view(1, primary, acked: true, to: [primary])
    }

    /// `primary` serves view 1, then view 2 adds `backup`, and the transfer completes.
    func bootPair(_ primary: String = "p", _ backup: String = "b") {
        bootFirstPrimary(primary)
        view(2, primary, backup, to: [primary, backup])
        settle()
    }

    func notices(_ address: String, where predicate: (ServerNotice) -> Bool) -> [ServerNotice] {
        (notices[address] ?? []).filter(predicate)
    }

    func clearRecords() {
        pings.removeAll()
        notices.removeAll()
    }
}

extension ServerNotice {
    var isRefusedPrimary: Bool {
        if case .refusedPrimary = self { return true }
        return false
    }
    var isTransferResumed: Bool {
        if case .transferResumed = self { return true }
        return false
    }

    var isTransferRestarted: Bool {
        if case .transferRestarted = self { return true }
        return false
    }
    var isFenced: Bool {
        if case .fenced = self { return true }
        return false
    }
    var completedChunks: Int? {
        if case .transferCompleted(_, _, _, _, let chunks) = self { return chunks }
        return nil
    }
}

extension Array where Element == ServerEffect {
    var pings: [UInt64] {
        compactMap { if case .ping(let viewnum, _) = $0 { return viewnum } else { return nil } }
    }
    var sentToBackup: [Message] {
        compactMap { if case .sendToBackup(_, _, let message) = $0 { return message } else { return nil } }
    }
    var replies: [(ReplyToken, ClientReply)] {
        compactMap { if case .reply(let token, let reply) = $0 { return (token, reply) } else { return nil } }
    }
}

func fnv1a32(_ bytes: Bytes) -> UInt32 {
    var hash: UInt32 = 0x811C_9DC5
    for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return hash
}

func putHashValue(_ previous: Bytes, _ argument: Bytes) -> Bytes { b(String(fnv1a32(previous + argument))) }

/// The key and value a single put or delete carries, for assertions.
extension ForwardedUpdate {
    var key: Bytes? {
        switch change {
        case .put(let key, _), .delete(let key), .setDeadline(let key, _, _): key
        default: nil
        }
    }

    var value: Bytes? {
        if case .put(_, let stored) = change { return stored.value }
        return nil
    }

    var isPut: Bool {
        if case .put = change { return true }
        return false
    }
}
