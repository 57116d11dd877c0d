/// Encodes and decodes frame bodies: `type u8 | requestID u64 | payload`.
///
/// The 4-byte length prefix belongs to the transport's framing; this codec sees only the
/// body. Decoding never traps: every malformed input becomes a `ProtocolError`.
public enum MessageCodec {
    /// Minimum encoded sizes, used to reject impossible element counts early.
    private static let minUpdateSize = 1 + 8 + 8 + 8 + 1 + 4
    private static let minLegacyUpdateSize = 1 + 4 + 4 + 8 + 8 + 1 + 4
    private static let minEntrySize = 4 + 4 + 8 + 8
    private static let minLegacyEntrySize = 4 + 4
    private static let minDuplicateSize = 8 + 8 + 1 + 4
    private static let minServerInfoSize = 2 + 1 + 8 + 8 + 1

    public static func encode(_ frame: Frame) -> [UInt8] {
        var w = WireWriter(capacity: sizeHint(frame.message))
        encode(frame, into: &w)
        return w.bytes
    }

    /// About the encoded size, so that a large batch or chunk is written into one
    /// allocation instead of a dozen doublings (an underestimate only costs a regrowth).
    /// A forward is estimated from its number of updates: adding up each update's size
    /// cost more per update than the occasional regrowth does.
    public static func sizeHint(_ message: Message) -> Int {
        switch message {
        case .forward(let batch):
            return 64 + batch.updates.count * 128
        case .transfer(let chunk):
            return 64 + chunk.entries.reduce(0) { $0 + TransferChunk.encodedSize(key: $1.key, value: $1.value.value) }
                + chunk.duplicates.reduce(0) { $0 + $1.encodedSize }
        default:
            return 64
        }
    }

    /// Inlinable and generic, so the transport specialises it for its send buffer and a
    /// forward batch is encoded straight into it.
    @inlinable
    public static func encode<Output: WireOutput>(_ frame: Frame, into w: inout Output) {
        w.u8(frame.message.typeCode.rawValue)
        w.u64(frame.requestID)
        switch frame.message {
        case .hello(let version):
            w.raw(ProtocolVersion.magic)
            w.u16(version)
        case .helloAck(let version, let challenge):
            w.u16(version)
            // Present only when authentication is on, so listeners without a secret send
            // exactly what earlier versions did.
            w.raw(challenge)
        case .authenticate(let nonce, let proof):
            w.raw(nonce)
            w.raw(proof)
        case .authenticated(let proof):
            w.raw(proof)
        case .error(let code, let message):
            w.u16(code.rawValue)
            w.string(message)
        case .ping(let address, let viewnum, let leaving, let incarnation, let claim):
            w.string(address)
            w.u64(viewnum)
            // The flags byte and what it announces are sent only when set, so that
            // monitors that predate them still take ordinary pings.
            var flags: UInt8 = 0
            if leaving { flags |= PingFlags.leaving }
            if incarnation != 0 { flags |= PingFlags.incarnation }
            if claim != nil { flags |= PingFlags.claim }
            guard flags != 0 else { break }
            w.u8(flags)
            if incarnation != 0 { w.u64(incarnation) }
            if let claim { encode(claim, into: &w) }
        case .getView, .listServers, .serverInfo, .monitorInfo, .adoptData:
            break
        case .notLeader(let leader):
            w.string(leader)
        case .monitorInfoReply(let status):
            w.u8(status.role.rawValue)
            w.string(status.leader)
            encode(status.view, into: &w)
            w.bool(status.storeReachable)
            // Sent only when set: kvctl builds that predate it still read the rest.
            if !status.waitingFor.isEmpty { w.string(status.waitingFor) }
        case .switchover(let viewnum):
            w.u64(viewnum)
        case .revive(let address, let viewnum):
            w.string(address)
            w.u64(viewnum)
        case .switchoverReply(let reply):
            w.u8(reply.status.rawValue)
            w.string(reply.reason)
            encode(reply.view, into: &w)
        case .serverInfoReply(let stats):
            w.string(stats.address)
            w.u8(stats.role.rawValue)
            encode(stats.view, into: &w)
            w.bool(stats.serving)
            w.bool(stats.backupSynchronized)
            w.u64(stats.keys)
            w.u64(stats.bytes)
            w.u64(stats.duplicates)
            w.u64(stats.uptimeMillis)
            w.u32(stats.connections)
            w.u32(stats.pendingReplies)
            w.u32(stats.deferredRequests)
            let counters = stats.counters.all
            w.u32(UInt32(counters.count))
            for counter in counters { w.u64(counter) }
            // Sent only by a server with a data directory: older kvctl builds read the rest.
            if let storage = stats.storage {
                w.string(storage.directory)
                w.string(storage.fsync)
                w.u64(storage.logBytes)
                w.u64(storage.snapshotBytes)
                w.u64(storage.lastWritten)
                w.u64(storage.lastSynced)
                w.bool(storage.claim != nil)
                if let claim = storage.claim { encode(claim, into: &w) }
                w.string(storage.opening)
            }
        case .viewReply(let view):
            encode(view, into: &w)
            // Trailing, and only when named: a peer that predates cluster ids is told the
            // view without it (`View.withoutCluster`), and its decoder sees what it knows.
            if view.cluster != 0 { w.u64(view.cluster) }
        case .serversReply(let view, let servers):
            encode(view, into: &w)
            w.u32(UInt32(servers.count))
            for server in servers {
                w.string(server.address)
                w.u8(server.role.rawValue)
                w.u64(server.lastPingAgeMillis)
                w.u64(server.viewnum)
                w.bool(server.alive)
            }
        case .request(let request):
            w.u8(request.op.rawValue)
            w.u64(request.clientID)
            w.u64(request.seq)
            w.blob(request.key)
            w.blob(request.value)
            if request.op == .txn { w.append(request.txn ?? Txn(success: [])) }
        case .reply(let reply):
            w.append(reply)
        case .forward(let batch):
            w.u64(batch.viewnum)
            w.string(batch.from)
            w.u64(batch.transferID)
            w.u64(batch.batchSeq)
            w.u64(batch.lease)
            w.u32(UInt32(batch.updates.count))
            // Read in place: a loop over the array copies each update, retaining its arrays.
            batch.updates.withUnsafeBufferPointer { updates in
                for index in updates.indices { w.append(updates[index]) }
            }
        case .transfer(let chunk):
            w.u64(chunk.viewnum)
            w.string(chunk.from)
            w.u64(chunk.transferID)
            w.u32(chunk.index)
            w.bool(chunk.isLast)
            w.u64(chunk.revision)
            w.u32(UInt32(chunk.entries.count))
            chunk.entries.withUnsafeBufferPointer { entries in
                for index in entries.indices {
                    w.blob(entries[index].key)
                    w.append(entries[index].value)
                }
            }
            w.u32(UInt32(chunk.duplicates.count))
            for dup in chunk.duplicates {
                w.u64(dup.clientID)
                w.u64(dup.seq)
                w.append(dup.reply)
            }
        case .backupAck(let ack):
            w.u8(ack.verdict.rawValue)
            w.u64(ack.backupViewnum)
        }
    }

    @inlinable
    static func encode<Output: WireOutput>(_ claim: StateClaim, into w: inout Output) {
        w.u8(claim.role.rawValue)
        w.u64(claim.viewnum)
        w.string(claim.primary)
        w.string(claim.backup)
        w.u64(claim.cluster)
    }

    @inlinable
    static func encode<Output: WireOutput>(_ view: View, into w: inout Output) {
        w.u64(view.viewnum)
        w.string(view.primary)
        w.string(view.backup)
        w.bool(view.acked)
    }

    public static func decode(_ body: [UInt8]) throws(ProtocolError) -> Frame {
        try body.withUnsafeBytes { bytes in Result { () throws(ProtocolError) in try decode(bytes) } }.get()
    }

    /// Decodes a frame body in place (the transport's receive buffer): every key and value
    /// is copied once, into the array the frame holds, and nothing refers to `body` after.
    public static func decode(_ body: UnsafeRawBufferPointer) throws(ProtocolError) -> Frame {
        var r = WireReader(borrowing: body)
        let typeByte = try r.u8("message type")
        let requestID = try r.u64("request id")
        guard let type = MessageType(rawValue: typeByte) else {
            throw ProtocolError(.unknownMessageType, "type 0x\(String(typeByte, radix: 16))")
        }
        let message: Message
        switch type {
        case .hello:
            let magic = try r.raw(4, "magic")
            guard magic == ProtocolVersion.magic else {
                throw ProtocolError(.malformedFrame, "bad magic in hello")
            }
            message = .hello(version: try r.u16("version"))
        case .helloAck:
            let version = try r.u16("version")
            // Any other length is left for the trailing-bytes check.
            let challenge =
                r.remaining == Authentication.nonceSize ? try r.raw(Authentication.nonceSize, "challenge") : []
            message = .helloAck(version: version, challenge: challenge)
        case .authenticate:
            let nonce = try r.raw(Authentication.nonceSize, "nonce")
            message = .authenticate(nonce: nonce, proof: try r.raw(Authentication.proofSize, "proof"))
        case .authenticated:
            message = .authenticated(proof: try r.raw(Authentication.proofSize, "proof"))
        case .error:
            let raw = try r.u16("error code")
            let code = ProtocolErrorCode(rawValue: raw) ?? .malformedFrame
            message = .error(code: code, message: try r.string("error message", max: 4096))
        case .ping:
            let address = try r.string("address")
            let viewnum = try r.u64("viewnum")
            // One optional flags byte, present only when it says something, then what it
            // announces: one encoding per message, and anything else is trailing garbage.
            var flags: UInt8 = 0
            var incarnation: UInt64 = 0
            var claim: StateClaim?
            if r.remaining > 0 {
                flags = try r.u8("ping flags")
                guard flags != 0, flags & ~PingFlags.known == 0 else {
                    throw ProtocolError(.malformedFrame, "trailing bytes: not a known set of ping flags (\(flags))")
                }
                if flags & PingFlags.incarnation != 0 {
                    incarnation = try r.u64("incarnation")
                    guard incarnation != 0 else { throw ProtocolError(.malformedFrame, "incarnation 0 sent") }
                }
                if flags & PingFlags.claim != 0 { claim = try decodeClaim(&r) }
            }
            message = .ping(
                address: address, viewnum: viewnum, leaving: flags & PingFlags.leaving != 0, incarnation: incarnation,
                claim: claim)
        case .switchover:
            message = .switchover(viewnum: try r.u64("viewnum"))
        case .revive:
            message = .revive(address: try r.string("address"), viewnum: try r.u64("viewnum"))
        case .adoptData:
            message = .adoptData
        case .switchoverReply:
            guard let status = SwitchoverReply.Status(rawValue: try r.u8("switchover status")) else {
                throw ProtocolError(.malformedFrame, "unknown switchover status")
            }
            let reason = try r.string("switchover reason", max: 4096)
            message = .switchoverReply(SwitchoverReply(status: status, reason: reason, view: try decodeView(&r)))
        case .getView:
            message = .getView
        case .listServers:
            message = .listServers
        case .serverInfo:
            message = .serverInfo
        case .monitorInfo:
            message = .monitorInfo
        case .notLeader:
            message = .notLeader(leader: try r.string("leader"))
        case .monitorInfoReply:
            guard let role = MonitorStatus.Role(rawValue: try r.u8("monitor role")) else {
                throw ProtocolError(.malformedFrame, "unknown monitor role")
            }
            let leader = try r.string("leader")
            let view = try decodeView(&r)
            let reachable = try r.bool("store reachable")
            var waitingFor = ""
            if r.remaining > 0 {
                let trailing = r.remaining
                do {
                    waitingFor = try r.string("waiting for", max: 4096)
                } catch {
                    throw ProtocolError(.malformedFrame, "\(trailing) trailing bytes (not a waiting-for text)")
                }
            }
            message = .monitorInfoReply(
                MonitorStatus(
                    role: role, leader: leader, view: view, storeReachable: reachable, waitingFor: waitingFor))
        case .serverInfoReply:
            let address = try r.string("server address")
            guard let role = ServerInfo.Role(rawValue: try r.u8("role")) else {
                throw ProtocolError(.malformedFrame, "unknown server role")
            }
            let view = try decodeView(&r)
            let serving = try r.bool("serving")
            let synchronized = try r.bool("backup synchronised")
            let keys = try r.u64("keys")
            let bytes = try r.u64("bytes")
            let duplicates = try r.u64("duplicates")
            let uptime = try r.u64("uptime")
            let connections = try r.u32("connections")
            let pending = try r.u32("pending replies")
            let deferred = try r.u32("deferred requests")
            let count = try r.count("counter count", minItemSize: 8)
            var values: [UInt64] = []
            for _ in 0..<count { values.append(try r.u64("counter")) }
            // Newer servers may report more counters; older ones fewer (missing are 0).
            values = Array((values + [UInt64](repeating: 0, count: ServerCounters.count)).prefix(ServerCounters.count))
            var storage: StorageStats?
            if r.remaining > 0 {
                let trailing = r.remaining
                do {
                    let directory = try r.string("data directory", max: 4096)
                    let fsync = try r.string("fsync policy")
                    let logBytes = try r.u64("log bytes")
                    let snapshotBytes = try r.u64("snapshot bytes")
                    let lastWritten = try r.u64("last written")
                    let lastSynced = try r.u64("last synced")
                    var claim: StateClaim?
                    if try r.bool("has claim") { claim = try decodeClaim(&r) }
                    storage = StorageStats(
                        directory: directory, fsync: fsync, logBytes: logBytes, snapshotBytes: snapshotBytes,
                        lastWritten: lastWritten, lastSynced: lastSynced, claim: claim,
                        opening: try r.string("opening report", max: 4096))
                } catch {
                    throw ProtocolError(.malformedFrame, "\(trailing) trailing bytes (not a storage report)")
                }
            }
            message = .serverInfoReply(
                ServerStats(
                    address: address, role: role, view: view, serving: serving, backupSynchronized: synchronized,
                    keys: keys, bytes: bytes, duplicates: duplicates, uptimeMillis: uptime, connections: connections,
                    pendingReplies: pending, deferredRequests: deferred, counters: ServerCounters(all: values),
                    storage: storage))
        case .viewReply:
            var view = try decodeView(&r)
            // Anything shorter than a cluster id is left for the trailing-bytes check.
            if r.remaining >= 8 {
                view.cluster = try r.u64("cluster")
                guard view.cluster != 0 else { throw ProtocolError(.malformedFrame, "cluster 0 sent") }
            }
            message = .viewReply(view)
        case .serversReply:
            let view = try decodeView(&r)
            let count = try r.count("server count", minItemSize: minServerInfoSize)
            var servers: [ServerInfo] = []
            servers.reserveCapacity(count)
            for _ in 0..<count {
                let address = try r.string("server address")
                guard let role = ServerInfo.Role(rawValue: try r.u8("role")) else {
                    throw ProtocolError(.malformedFrame, "unknown server role")
                }
                let age = try r.u64("last ping age")
                let viewnum = try r.u64("server viewnum")
                let alive = try r.bool("alive")
                servers.append(
                    ServerInfo(address: address, role: role, lastPingAgeMillis: age, viewnum: viewnum, alive: alive))
            }
            message = .serversReply(view: view, servers: servers)
        case .request:
            guard let op = Operation(rawValue: try r.u8("operation")) else {
                throw ProtocolError(.malformedFrame, "unknown operation")
            }
            let clientID = try r.u64("client id")
            let seq = try r.u64("sequence number")
            let key = try r.blob("key", max: Limits.maxKeySize)
            let value = try r.blob("value", max: Limits.maxValueSize)
            var request = ClientRequest(op: op, clientID: clientID, seq: seq, key: key, value: value)
            if op == .txn { request.txn = try r.txn() }
            message = .request(request)
        case .reply:
            message = .reply(try r.clientReply())
        case .forward, .forwardV1:
            let legacy = type == .forwardV1
            let viewnum = try r.u64("viewnum")
            let from = try r.string("sender")
            let transferID = try r.u64("transfer id")
            let batchSeq = try r.u64("batch seq")
            let lease = legacy ? 0 : try r.u64("lease")
            guard lease <= Limits.maxReadLease else {
                throw ProtocolError(.malformedFrame, "lease of \(lease) ns exceeds \(Limits.maxReadLease)")
            }
            let count = try r.count("update count", minItemSize: legacy ? minLegacyUpdateSize : minUpdateSize)
            var updates: [ForwardedUpdate] = []
            updates.reserveCapacity(count)
            for _ in 0..<count {
                updates.append(legacy ? try LegacyFormat.forwardedUpdate(&r) : try r.forwardedUpdate())
            }
            message = .forward(
                ForwardBatch(
                    viewnum: viewnum, from: from, transferID: transferID, batchSeq: batchSeq, lease: lease,
                    updates: updates))
        case .transfer, .transferV1:
            let legacy = type == .transferV1
            let viewnum = try r.u64("viewnum")
            let from = try r.string("sender")
            let transferID = try r.u64("transfer id")
            let index = try r.u32("chunk index")
            let isLast = try r.bool("last flag")
            let revision = legacy ? 0 : try r.u64("revision")
            let entryCount = try r.count("entry count", minItemSize: legacy ? minLegacyEntrySize : minEntrySize)
            var entries: [(key: Bytes, value: StoredValue)] = []
            entries.reserveCapacity(entryCount)
            for _ in 0..<entryCount {
                let key = try r.blob("key", max: Limits.maxKeySize)
                let value =
                    legacy
                    ? StoredValue(value: try r.blob("value", max: Limits.maxValueSize), revision: 0)
                    : try r.storedValue()
                entries.append((key, value))
            }
            let dupCount = try r.count("duplicate count", minItemSize: minDuplicateSize)
            var duplicates: [DuplicateEntry] = []
            duplicates.reserveCapacity(dupCount)
            for _ in 0..<dupCount {
                let clientID = try r.u64("client id")
                let seq = try r.u64("sequence number")
                duplicates.append(DuplicateEntry(clientID: clientID, seq: seq, reply: try r.clientReply()))
            }
            message = .transfer(
                TransferChunk(
                    viewnum: viewnum, from: from, transferID: transferID, index: index, isLast: isLast,
                    revision: revision, entries: entries, duplicates: duplicates))
        case .backupAck:
            guard let verdict = BackupVerdict(rawValue: try r.u8("verdict")) else {
                throw ProtocolError(.malformedFrame, "unknown verdict")
            }
            message = .backupAck(BackupAck(verdict: verdict, backupViewnum: try r.u64("viewnum")))
        }
        try r.expectEnd()
        return Frame(requestID: requestID, message: message)
    }

    private static func decodeClaim(_ r: inout WireReader) throws(ProtocolError) -> StateClaim {
        let raw = try r.u8("claim role")
        guard let role = StateClaim.Role(rawValue: raw) else {
            throw ProtocolError(.malformedFrame, "unknown claim role \(raw)")
        }
        return StateClaim(
            role: role, viewnum: try r.u64("claim viewnum"), primary: try r.string("claim primary"),
            backup: try r.string("claim backup"), cluster: try r.u64("claim cluster"))
    }

    private static func decodeView(_ r: inout WireReader) throws(ProtocolError) -> View {
        let viewnum = try r.u64("viewnum")
        let primary = try r.string("primary")
        let backup = try r.string("backup")
        return View(viewnum: viewnum, primary: primary, backup: backup, acked: try r.bool("acked"))
    }

}

/// The optional flags byte of a ping.
@usableFromInline
enum PingFlags {
    @usableFromInline static let leaving: UInt8 = 0x01
    /// A u64 incarnation follows.
    @usableFromInline static let incarnation: UInt8 = 0x02
    /// A claim follows (after the incarnation): role u8, viewnum u64, primary and backup.
    @usableFromInline static let claim: UInt8 = 0x04
    static let known: UInt8 = leaving | incarnation | claim
}
