import XCTest

@testable import KVProtocol

extension SplitMix64 {
    mutating func bytes(_ count: Int) -> Bytes {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}

/// Every byte value once: a key or value no text codec would survive.
let allByteValues: Bytes = (0...255).map { UInt8($0) }

/// Frames covering every message case with non-trivial contents.
enum SampleFrames {
    static let unicodeAddress = "hôst-ünïcødé-名前-🚀.example:7001"

    static func manyUpdates(_ count: Int) -> [ForwardedUpdate] {
        var rng = SplitMix64(seed: 42)
        return (0..<count).map { i in
            let status = ReplyStatus.allCases[i % ReplyStatus.allCases.count]
            let key = i % 7 == 0 ? [] : rng.bytes(1 + i % 17)
            let change: StoreChange
            switch i % 6 {
            case 0: change = .delete(key)
            case 1: change = .none
            case 2: change = .setDeadline(key, expiresAt: rng.next(), revision: rng.next())
            case 3: change = .several([.put(key, sampleValue(&rng, i)), .delete(key), .deleteAll])
            case 4: change = .deleteAll
            default: change = .put(key, sampleValue(&rng, i))
            }
            var reply = ClientReply(status: status, value: i % 5 == 0 ? allByteValues : rng.bytes(i % 9))
            if i % 11 == 0 { reply = ClientReply(outcome: sampleOutcome) }
            return ForwardedUpdate(
                change: change, revision: rng.next(), clientID: rng.next(), seq: UInt64(i) * 1_000_003, reply: reply)
        }
    }

    static func manyEntries(_ count: Int) -> [(key: Bytes, value: StoredValue)] {
        var rng = SplitMix64(seed: 7)
        return (0..<count).map { i in
            (key: i == 0 ? [] : rng.bytes(1 + i % 13), value: sampleValue(&rng, i))
        }
    }

    static func sampleValue(_ rng: inout SplitMix64, _ i: Int) -> StoredValue {
        StoredValue(
            value: i % 4 == 0 ? [] : rng.bytes(i % 29), revision: rng.next(), expiresAt: i % 3 == 0 ? 0 : rng.next())
    }

    /// A transaction using every compare, operation and expiry.
    static let sampleTxn = Txn(
        compares: [
            Compare(key: [1], .value(allByteValues), .notEqual), Compare(key: [], .revision(.max), .less),
            .exists([2]), .absent([3]), Compare(key: [4], .value([]), .greater),
        ],
        success: [
            .get([1]), .put([2], value: allByteValues, expiry: .after(10_000), returnPrevious: true),
            .put([2], value: [], expiry: .at(.max), returnPrevious: false),
            .put([5], value: [0], expiry: .keep, returnPrevious: false),
            .put([5], value: [0], expiry: .never, returnPrevious: false), .delete([3]), .add([6], .min),
            .addFloat([7], -0.25), .append([8], [9]), .expire([1], .after(5), .ifLater),
            .expire([1], .never, .always), .rename([1], to: [2], onlyIfAbsent: true),
            .range(KeyRange(start: [1], prefix: [], pattern: Bytes(utf8: "a*[b-c]?"), limit: 100, keysOnly: true)),
            .range(KeyRange(limit: KeyRange.maxLimit)), .deleteAll,
        ],
        failure: [.txn(Txn(compares: [.exists([9])], success: [.get([9])], failure: [.txn(Txn(success: []))]))])

    /// An outcome using every kind of result.
    static let sampleOutcome = TxnOutcome(
        succeeded: true,
        results: [
            .done, .value(nil), .value(StoredValue(value: allByteValues, revision: 7, expiresAt: 99)),
            .integer(.min), .bytes([1, 2]), .range([RangeItem(key: [1], value: nil)], next: nil),
            .range([RangeItem(key: [], value: StoredValue(value: [], revision: 1))], next: [0xFF]),
            .error(.notInteger), .error(.tooLarge),
            .txn(TxnOutcome(succeeded: false, results: [.done], revision: 0, now: 0)),
        ], revision: .max, now: 1_767_225_600_000)

    static func manyDuplicates(_ count: Int) -> [DuplicateEntry] {
        var rng = SplitMix64(seed: 99)
        return (0..<count).map { i in
            DuplicateEntry(
                clientID: rng.next(), seq: rng.next(),
                reply: ClientReply(
                    status: ReplyStatus.allCases[i % ReplyStatus.allCases.count], value: rng.bytes(i % 11)))
        }
    }

    static func manyServers(_ count: Int) -> [ServerInfo] {
        var servers: [ServerInfo] = []
        let roles: [ServerInfo.Role] = [.primary, .backup, .idle]
        for i in 0..<count {
            let address: String = i % 2 == 0 ? "s\(i):\(7000 + i)" : "ß\(i)-🚀:\(i)"
            let viewnum: UInt64 = i == 0 ? .max : UInt64(i)
            let age = UInt64(i) * 977
            servers.append(
                ServerInfo(
                    address: address, role: roles[i % 3], lastPingAgeMillis: age, viewnum: viewnum, alive: i % 4 != 0))
        }
        return servers
    }

    static var messages: [Message] {
        var result: [Message] = []
        result.append(
            .hello(version: ProtocolVersion.current))
        result.append(
            .hello(version: 0))
        result.append(
            .hello(version: .max))
        result.append(
            .helloAck(version: 1))
        result.append(
            .helloAck(version: 0xBEEF))
        result.append(
            .ping(address: "", viewnum: 0))
        result.append(
            .ping(address: "127.0.0.1:7200", viewnum: 17))
        result.append(
            .ping(address: unicodeAddress, viewnum: .max))
        result.append(
            .ping(address: String(repeating: "a", count: Limits.maxAddressSize), viewnum: 3))
        result.append(
            .helloAck(version: 1, challenge: Array(0..<32)))
        result.append(
            .authenticate(nonce: [UInt8](repeating: 0xAB, count: 32), proof: Array(100..<132)))
        result.append(
            .authenticated(proof: [UInt8](repeating: 0, count: 32)))
        result.append(
            .ping(address: "127.0.0.1:7201", viewnum: 5, leaving: true))
        result.append(
            .ping(address: "127.0.0.1:7201", viewnum: 0, incarnation: 0x0123_4567_89AB_CDEF))
        result.append(
            .ping(
                address: "127.0.0.1:7202", viewnum: 0, leaving: true, incarnation: .max,
                claim: StateClaim(role: .primary, viewnum: 7, primary: "127.0.0.1:7202", backup: "")))
        result.append(
            .ping(
                address: "b:2", viewnum: 0, incarnation: 1,
                claim: StateClaim(role: .backup, viewnum: .max, primary: "p:1", backup: "b:2", cluster: .max)))
        result.append(
            .switchover(viewnum: 0))
        result.append(
            .switchover(viewnum: .max))
        result.append(
            .switchoverReply(SwitchoverReply(status: .done, view: View(viewnum: 3, primary: "b:2", backup: "p:1"))))
        result.append(
            .switchoverReply(
                SwitchoverReply(
                    status: .retryLater, reason: "view 2 is not yet acknowledged ✗",
                    view: View(viewnum: 2, primary: unicodeAddress, backup: "b:2", acked: false))))
        result.append(
            .switchoverReply(SwitchoverReply(status: .refused, reason: "no backup", view: .initial)))
        result.append(
            .notLeader(leader: "10.0.0.2:7100"))
        result.append(
            .notLeader(leader: ""))
        result.append(
            .monitorInfo)
        result.append(
            .monitorInfoReply(
                MonitorStatus(
                    role: .follower, leader: "10.0.0.2:7100", view: View(viewnum: 7, primary: "a:1", backup: "b:2"),
                    storeReachable: true)))
        result.append(
            .monitorInfoReply(MonitorStatus(role: .sole, leader: "", view: .initial, storeReachable: false)))
        result.append(
            .monitorInfoReply(
                MonitorStatus(
                    role: .leader, leader: "a:1", view: View(viewnum: 9, primary: "a:1", backup: "b:2", acked: true),
                    storeReachable: true, waitingFor: "view 9 cannot go on: primary a:1 is down")))
        result.append(
            .getView)
        result.append(
            .listServers)
        result.append(
            .viewReply(.initial))
        result.append(
            .viewReply(View(viewnum: 42, primary: unicodeAddress, backup: "", acked: true)))
        result.append(
            .viewReply(View(viewnum: .max, primary: "p:1", backup: "b:2", acked: false)))
        result.append(
            .viewReply(View(viewnum: 9, primary: "p:1", backup: "b:2", acked: true, cluster: 0x0123_4567_89ab_cdef)))
        result.append(
            .serversReply(view: .initial, servers: []))
        result.append(
            .serversReply(
                view: View(viewnum: 9, primary: "p:1", backup: unicodeAddress, acked: true),
                servers: manyServers(50)))
        result.append(
            .reply(ClientReply(status: .ok, value: [])))
        result.append(
            .reply(ClientReply(status: .ok, value: allByteValues)))
        result.append(
            .reply(ClientReply(status: .invalid, value: Bytes(utf8: "key too long ✗"))))
        result.append(
            .forward(ForwardBatch(viewnum: 1, from: "p:1", transferID: 1, batchSeq: 1, updates: [])))
        result.append(
            .forward(
                ForwardBatch(
                    viewnum: .max, from: unicodeAddress, transferID: .max, batchSeq: 123_456,
                    updates: manyUpdates(300))))
        result.append(
            .transfer(
                TransferChunk(
                    viewnum: 2, from: "p:1", transferID: 1, index: 0, isLast: true, revision: 0, entries: [],
                    duplicates: [])))
        result.append(
            .transfer(
                TransferChunk(
                    viewnum: 77, from: unicodeAddress, transferID: 5, index: .max, isLast: false, revision: 0,
                    entries: manyEntries(250), duplicates: manyDuplicates(120))))
        result.append(
            .transfer(
                TransferChunk(
                    viewnum: 3, from: "p:1", transferID: 9, index: 1, isLast: true, revision: 0,
                    entries: [(key: allByteValues, value: StoredValue(value: allByteValues, revision: 1))],
                    duplicates: [])))
        for code in [
            ProtocolErrorCode.versionMismatch, .malformedFrame, .frameTooLarge, .unknownMessageType,
            .unexpectedMessage, .handshakeRequired, .overloaded,
        ] {
            result.append(.error(code: code, message: ""))
            result.append(.error(code: code, message: "\(code) — détail ✓ 🚀"))
        }
        result.append(.error(code: .malformedFrame, message: String(repeating: "é", count: 2048)))
        for op in Operation.allCases {
            result.append(.request(ClientRequest(op: op, clientID: 0, seq: 0, key: [], value: [])))
            result.append(
                .request(
                    ClientRequest(
                        op: op, clientID: .max, seq: 0x0102_0304_0506_0708, key: allByteValues,
                        value: allByteValues + allByteValues.reversed())))
        }
        for status in ReplyStatus.allCases {
            result.append(.reply(ClientReply(status: status, value: [0, 0xFF, 0x80])))
        }
        result.append(.request(ClientRequest(txn: sampleTxn, clientID: 3, seq: 4)))
        result.append(.reply(ClientReply(outcome: sampleOutcome)))
        for verdict in [BackupVerdict.accepted, .unknownView, .rejected, .outOfOrder] {
            result.append(.backupAck(BackupAck(verdict: verdict, backupViewnum: 0)))
            result.append(.backupAck(BackupAck(verdict: verdict, backupViewnum: .max)))
        }
        result.append(.serverInfo)
        result.append(.adoptData)
        result.append(.revive(address: "127.0.0.1:7102", viewnum: 7))
        result.append(.revive(address: "", viewnum: .max))
        result.append(.serverInfoReply(sampleStats))
        var idle = sampleStats
        idle.role = .idle
        idle.view = .initial
        idle.counters = ServerCounters()
        result.append(.serverInfoReply(idle))
        var durable = sampleStats
        durable.storage = StorageStats(
            directory: "/var/lib/kvservice/server-7101", fsync: "always", logBytes: 1 << 20, snapshotBytes: 12_345,
            lastWritten: 99, lastSynced: 98,
            claim: StateClaim(role: .primary, viewnum: 4, primary: "p:1", backup: "", cluster: 5),
            opening: "recovered 3 keys up to LSN 97")
        result.append(.serverInfoReply(durable))
        durable.storage?.claim = nil
        result.append(.serverInfoReply(durable))
        return result
    }

    static var frames: [Frame] {
        let ids: [UInt64] = [0, 1, .max, 0x8000_0000_0000_0001, 0xDEAD_BEEF]
        return messages.enumerated().map { index, message in
            Frame(requestID: ids[index % ids.count], message: message)
        }
    }

    /// A handful of small frames of varied types, for exhaustive prefix and mutation loops.
    static var small: [Frame] {
        [
            Frame(requestID: 1, message: .hello(version: 1)),
            Frame(requestID: 2, message: .error(code: .overloaded, message: "busy ✓")),
            Frame(requestID: 3, message: .ping(address: "h:1", viewnum: 5)),
            Frame(requestID: 4, message: .viewReply(View(viewnum: 3, primary: "p:1", backup: "b:2", acked: true))),
            Frame(
                requestID: 5,
                message: .serversReply(
                    view: View(viewnum: 3, primary: "p:1", backup: "", acked: false),
                    servers: [
                        ServerInfo(address: "p:1", role: .primary, lastPingAgeMillis: 12, viewnum: 3, alive: true),
                        ServerInfo(address: "i:3", role: .idle, lastPingAgeMillis: 900, viewnum: 0, alive: false),
                    ])),
            Frame(
                requestID: 6,
                message: .request(ClientRequest(op: .putHash, clientID: 9, seq: 2, key: [1, 2], value: [0, 255]))),
            Frame(requestID: 7, message: .reply(ClientReply(status: .ok, value: [9, 8, 7]))),
            Frame(
                requestID: 8,
                message: .forward(
                    ForwardBatch(viewnum: 4, from: "p:1", transferID: 2, batchSeq: 3, updates: manyUpdates(3)))),
            Frame(
                requestID: 9,
                message: .transfer(
                    TransferChunk(
                        viewnum: 4, from: "p:1", transferID: 2, index: 1, isLast: true, revision: 0,
                        entries: manyEntries(3),
                        duplicates: manyDuplicates(2)))),
            Frame(requestID: 10, message: .backupAck(BackupAck(verdict: .outOfOrder, backupViewnum: 4))),
            Frame(requestID: 11, message: .getView),
            Frame(requestID: 12, message: .serverInfoReply(sampleStats)),
        ]
    }

    static var sampleStats: ServerStats {
        ServerStats(
            address: "127.0.0.1:7101", role: .primary,
            view: View(viewnum: 9, primary: "127.0.0.1:7101", backup: "[::1]:7102", acked: true), serving: true,
            backupSynchronized: true, keys: 1_000_000, bytes: .max, duplicates: 7, uptimeMillis: 123_456,
            connections: 3, pendingReplies: 2, deferredRequests: .max,
            counters: ServerCounters(all: [1, 2, 3, 4, 5, 6, .max, 8, 9]))
    }
}

/// Decodes `body`, expecting a `ProtocolError`; returns it (nil and a failure otherwise).
@discardableResult
func expectDecodeError(
    _ body: [UInt8], _ code: ProtocolErrorCode? = .malformedFrame, _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) -> ProtocolError? {
    do {
        let frame = try MessageCodec.decode(body)
        XCTFail("decoded \(frame) from bad input. \(message())", file: file, line: line)
        return nil
    } catch {
        if let code {
            XCTAssertEqual(error.code, code, "\(error). \(message())", file: file, line: line)
        }
        return error
    }
}

/// A frame body written field by field, for building malformed input.
func body(_ type: MessageType, requestID: UInt64 = 1, _ fill: (inout WireWriter) -> Void) -> [UInt8] {
    var w = WireWriter()
    w.u8(type.rawValue)
    w.u64(requestID)
    fill(&w)
    return w.bytes
}
