import KVProtocol
import KVTransport
import Logging
import NIOCore
import NodeDriver
import ServerCore

/// Who gets an answer in the daemon: a connection of the kvservice protocol, or an
/// in-process caller of `ServerNode.submit` (the Redis-protocol endpoint, tests).
/// `@unchecked Sendable` for `sink` and `relayed`: those are made and answered on the node's
/// loop only; the others are `Sendable` themselves.
enum ServerRequester: @unchecked Sendable {
    case connection(Responder)
    case promise(EventLoopPromise<ClientReply>)
    case callback(@Sendable (Result<ClientReply, any Error>) -> Void)
    /// A sink on the node's loop, called directly (`ClientReplySink`).
    case sink(any ClientReplySink, slot: UInt64)
    /// A sink on an I/O loop, answered through its relay (`kv-server --io-threads`).
    case relayed(IOLoopRelay, any ClientReplySink, slot: UInt64)

    func answer(_ message: Message) {
        switch self {
        case .sink(let sink, let slot):
            guard case .reply(let reply) = message else { return sink.abandon(slot: slot) }
            sink.deliver(reply, slot: slot)
        case .relayed(let relay, let sink, let slot):
            guard case .reply(let reply) = message else { return relay.answer(nil, slot: slot, to: sink) }
            relay.answer(reply, slot: slot, to: sink)
        case .connection(let responder):
            responder.respond(message)
        case .promise(let promise):
            guard case .reply(let reply) = message else { return promise.fail(ServerNode.StoppedError()) }
            promise.succeed(reply)
        case .callback(let completion):
            guard case .reply(let reply) = message else { return completion(.failure(ServerNode.StoppedError())) }
            completion(.success(reply))
        }
    }

    /// No answer will come: a connection just does not get one (its peer times out, as
    /// it would if the process had died); an in-process caller is told at once.
    func abandon() {
        switch self {
        case .connection: break
        case .sink(let sink, let slot): sink.abandon(slot: slot)
        case .relayed(let relay, let sink, let slot): relay.answer(nil, slot: slot, to: sink)
        case .promise(let promise): promise.fail(ServerNode.StoppedError())
        case .callback(let completion): completion(.failure(ServerNode.StoppedError()))
        }
    }
}

/// The server driver's world in the daemon: SwiftNIO connections to the monitors and the
/// backup, the loop's timers and clock, the logger. Used on `loop` only, which is what
/// makes the unchecked `Sendable` sound.
final class NIOServerEnvironment: ServerEnvironment, @unchecked Sendable {
    typealias Requester = ServerRequester
    typealias Timer = LoopTimer

    let loop: any EventLoop
    private let group: any EventLoopGroup
    private let logger: Logger
    private let secret: SharedSecret?
    private let tls: (any ConnectionSecurity)?
    /// One link per monitor the driver has pinged, made on its first ping.
    private var monitorLinks: [String: PeerLink] = [:]
    private var backupLink: PeerLink?
    var onStatusChange: (@Sendable (ServerNode.Summary) -> Void)?
    var onTick: (@Sendable (ServerNode.Summary) -> Void)?
    /// The driver's `peerTrouble`, for the summaries (set once the driver exists).
    var peerTrouble: (() -> String?)?

    init(
        loop: any EventLoop, group: any EventLoopGroup, secret: SharedSecret?, tls: (any ConnectionSecurity)?,
        logger: Logger
    ) {
        self.loop = loop
        self.group = group
        self.logger = logger
        self.secret = secret
        self.tls = tls
    }

    var now: UInt64 { NIODeadline.now().uptimeNanoseconds }

    var wallClockMillis: UInt64 { WallClock.millis() }
    var leaseClock: UInt64 { LeaseClock.nanoseconds() }

    func send(
        _ message: Message, to peer: Peer, timeout: UInt64, completion: @escaping (Result<Message, PeerFailure>) -> Void
    ) {
        let link: PeerLink
        switch peer {
        case .monitor(let address):
            if let existing = monitorLinks[address] {
                link = existing
            } else {
                link = PeerLink(address: address, group: group, loop: loop, secret: secret, tls: tls)
                monitorLinks[address] = link
            }
        case .server(let address):
            if backupLink?.address != address {
                backupLink?.close()
                backupLink = PeerLink(address: address, group: group, loop: loop, secret: secret, tls: tls)
            }
            link = backupLink!
        }
        let loop = self.loop
        let completion = NIOLoopBound(completion, eventLoop: loop)
        let (logger, address) = (self.logger, link.address)
        let isPing: Bool
        if case .ping = message { isPing = true } else { isPing = false }
        link.send(message, timeout: .nanoseconds(Int64(clamping: timeout))).whenComplete { result in
            if isPing {
                switch result {
                case .failure(let error):
                    logger.debug(
                        "ping to the monitor \(address) failed: \(error)",
                        metadata: ["kv_event": "ping-failed", "kv_peer": "\(address)"])
                case .success(.notLeader(let leader)):
                    logger.debug(
                        "the monitor \(address) is not the leader; it names \(leader.isEmpty ? "none" : leader)",
                        metadata: ["kv_event": "ping-redirected", "kv_peer": "\(address)", "kv_leader": "\(leader)"])
                case .success:
                    break
                }
            }
            // Always as a task of its own: a future that failed at once would otherwise
            // complete inside `send`, while the driver is still carrying out effects.
            loop.execute { completion.value(result.mapError(PeerFailure.init)) }
        }
    }

    func respond(to requester: ServerRequester, with message: Message) {
        requester.answer(message)
    }

    func abandon(_ requester: ServerRequester) {
        requester.abandon()
    }

    func schedule(after delay: UInt64, _ action: @escaping () -> Void) -> LoopTimer {
        LoopTimer.once(on: loop, after: delay, action)
    }

    func scheduleRepeated(initialDelay: UInt64, every interval: UInt64, _ action: @escaping () -> Void) -> LoopTimer {
        LoopTimer.repeating(on: loop, initialDelay: initialDelay, every: interval, action)
    }

    func log(_ notice: ServerNotice, durationNanos: UInt64?) {
        Notices.log(notice, logger: logger, durationMillis: durationNanos.map { $0 / 1_000_000 })
    }

    func statusChanged(_ core: ServerCore) {
        onStatusChange?(ServerNode.Summary(core, trouble: peerTrouble?()))
    }

    func ticked(_ core: ServerCore) {
        onTick?(ServerNode.Summary(core, trouble: peerTrouble?()))
    }

    /// Closes the links to the monitors and the backup.
    func close() {
        for link in monitorLinks.values { link.close() }
        backupLink?.close()
    }
}
