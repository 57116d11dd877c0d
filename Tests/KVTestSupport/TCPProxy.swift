import Foundation
import KVProtocol
import KVTransport
import NIOCore
import NIOPosix

/// A TCP proxy for tests: accepts on 127.0.0.1, opens a connection to the target for each
/// accepted one, and passes the kvservice protocol's frames (a 4-byte big-endian length,
/// then the body, whose first byte is the message type) both ways, each frame whole.
/// Like the original test's proxy it stands in for the target's address, so whoever uses
/// that address (clients, a primary forwarding to its backup, a server pinging the
/// monitor) goes through it.
///
/// What it can do to the traffic:
/// - Hold the frames going one way until `release()`, or delay each by a fixed time.
///   Order is kept, and a close from one side reaches the other only after the frames
///   before it.
/// - `unreliable`: the original course's unreliable RPC, applied on the wire. A request
///   frame on its way to the target is dropped with probability 1/10, so it is never
///   processed, and a reply frame on its way back with probability 2/10: of all requests
///   about 10% are lost before processing and 18% more lose their reply after it, the
///   original's proportions. A drop closes the connection on both sides, as the original
///   closed its socket. The handshake's frames (hello, helloAck, authenticate,
///   authenticated) always pass, or no connection would ever open. The draws come from a
///   SplitMix64 with the proxy's seed.
/// - `block()`: a partition. The connections open are closed, and new ones are closed
///   as soon as they are accepted, until `unblock()`.
package final class TCPProxy: Sendable {
    package enum Direction: Sendable {
        /// From whoever connected to the proxy, towards the target: requests.
        case toTarget
        /// From the target back to whoever connected: replies.
        case toConnector
    }

    let channel: any Channel
    let control: ProxyControl
    package let target: PeerAddress

    private init(channel: any Channel, control: ProxyControl, target: PeerAddress) {
        self.channel = channel
        self.control = control
        self.target = target
    }

    package var port: Int { channel.localAddress?.port ?? 0 }
    package var address: String { "127.0.0.1:\(port)" }

    package static func start(
        port: Int = 0, target: PeerAddress, group: any EventLoopGroup, seed: UInt64 = 0x6B76_7365_7276_6963
    ) async throws -> TCPProxy {
        let control = ProxyControl(seed: seed)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { inbound in
                inbound.eventLoop.makeCompletedFuture {
                    let toTarget = ProxyHandler(direction: .toTarget, control: control, partner: nil)
                    try inbound.pipeline.syncOperations.addHandler(toTarget)
                    // A blocked proxy closes the connection once it is active; it must not
                    // reach the target meanwhile.
                    guard !control.isBlocked else { return }
                    let bound = NIOLoopBound(toTarget, eventLoop: inbound.eventLoop)
                    // The outgoing connection lives on the same loop, so both handlers of a
                    // pair are only ever touched from that loop.
                    ClientBootstrap(group: inbound.eventLoop)
                        .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                        .channelInitializer { outbound in
                            outbound.eventLoop.makeCompletedFuture {
                                try outbound.pipeline.syncOperations.addHandler(
                                    ProxyHandler(direction: .toConnector, control: control, partner: inbound))
                            }
                        }
                        .connect(host: target.host, port: target.port)
                        .whenComplete { result in
                            switch result {
                            case .success(let outbound): bound.value.attach(outbound)
                            case .failure: inbound.close(promise: nil)
                            }
                        }
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return TCPProxy(channel: channel, control: control, target: target)
    }

    /// Keeps the frames going `direction` in the proxy until `release`.
    package func hold(_ direction: Direction = .toTarget) { control.setHeld(direction, true) }

    /// Lets held frames (and any close that followed them) through, in order.
    package func release(_ direction: Direction = .toTarget) {
        control.setHeld(direction, false)
        control.wakeAll()
    }

    /// Delays every frame going `direction` by `delay` from its arrival.
    package func setDelay(_ delay: TimeAmount, _ direction: Direction = .toTarget) {
        control.setDelay(direction, delay)
    }

    /// Whether frames after the handshake are dropped at random (see the type's comment).
    package var unreliable: Bool {
        get { control.isUnreliable }
        set { control.setUnreliable(newValue) }
    }

    /// Cuts the target off: closes every connection through the proxy, and closes new
    /// ones as soon as they are accepted, until `unblock`.
    package func block() {
        control.setBlocked(true)
        control.closeAll()
    }

    package func unblock() { control.setBlocked(false) }

    /// Bytes received from the sending side, so far.
    package func bytesReceived(_ direction: Direction = .toTarget) -> Int { control.counter(direction).received }
    /// Bytes passed on to the other side, so far.
    package func bytesForwarded(_ direction: Direction = .toTarget) -> Int { control.counter(direction).forwarded }
    /// Frames dropped going `direction` (each closed its connection), so far.
    package func framesDropped(_ direction: Direction) -> Int { control.counter(direction).dropped }

    package func stop() async {
        try? await channel.close()
        control.closeAll()
    }
}

/// The state shared by a proxy's connections.
final class ProxyControl: @unchecked Sendable {
    struct Counter {
        var received = 0
        var forwarded = 0
        var dropped = 0
    }

    /// Frames of the connection's opening, which an unreliable proxy never drops.
    private static let handshake: Set<UInt8> = Set(
        [MessageType.hello, .helloAck, .authenticate, .authenticated].map(\.rawValue))

    private let lock = NSLock()
    private var held: Set<TCPProxy.Direction> = []
    private var delays: [TCPProxy.Direction: TimeAmount] = [:]
    private var unreliable = false
    private var blocked = false
    private var random: SplitMix64
    private var counters: [TCPProxy.Direction: Counter] = [:]
    private var wakers: [Int: @Sendable () -> Void] = [:]
    private var closers: [Int: @Sendable () -> Void] = [:]
    private var nextID = 0

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    func isHeld(_ direction: TCPProxy.Direction) -> Bool { lock.withLock { held.contains(direction) } }

    func setHeld(_ direction: TCPProxy.Direction, _ on: Bool) {
        lock.withLock {
            if on { held.insert(direction) } else { held.remove(direction) }
        }
    }

    func delay(_ direction: TCPProxy.Direction) -> TimeAmount { lock.withLock { delays[direction] ?? .zero } }
    func setDelay(_ direction: TCPProxy.Direction, _ delay: TimeAmount) { lock.withLock { delays[direction] = delay } }

    var isUnreliable: Bool { lock.withLock { unreliable } }
    func setUnreliable(_ on: Bool) { lock.withLock { unreliable = on } }

    var isBlocked: Bool { lock.withLock { blocked } }
    func setBlocked(_ on: Bool) { lock.withLock { blocked = on } }

    /// Whether the frame of `type` going `direction` is to be dropped; counts it if so.
    func drops(_ direction: TCPProxy.Direction, type: UInt8) -> Bool {
        lock.withLock {
            guard unreliable, !Self.handshake.contains(type) else { return false }
            let threshold = direction == .toTarget ? 100 : 200
            guard random.below(1000) < threshold else { return false }
            counters[direction, default: Counter()].dropped += 1
            return true
        }
    }

    func register(wake: @escaping @Sendable () -> Void, close: @escaping @Sendable () -> Void) -> Int {
        lock.withLock {
            nextID += 1
            wakers[nextID] = wake
            closers[nextID] = close
            return nextID
        }
    }

    func unregister(_ id: Int) {
        lock.withLock {
            wakers[id] = nil
            closers[id] = nil
        }
    }

    func wakeAll() {
        for wake in lock.withLock({ Array(wakers.values) }) { wake() }
    }

    func closeAll() {
        for close in lock.withLock({ Array(closers.values) }) { close() }
    }

    func counter(_ direction: TCPProxy.Direction) -> Counter { lock.withLock { counters[direction] ?? Counter() } }

    func note(_ direction: TCPProxy.Direction, received: Int = 0, forwarded: Int = 0) {
        lock.withLock {
            counters[direction, default: Counter()].received += received
            counters[direction, default: Counter()].forwarded += forwarded
        }
    }
}

/// Cuts what one side of a proxied pair reads into frames and passes them to the other
/// side.
private final class ProxyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// A whole frame with its message type, or bytes that are not a whole frame (what is
    /// left when the input ends inside one, or a stream that is not the protocol), which
    /// pass as they are.
    private struct Piece {
        var bytes: ByteBuffer
        var type: UInt8?
    }

    private let direction: TCPProxy.Direction
    private let control: ProxyControl
    private var partner: (any Channel)?
    /// Bytes read and not yet cut into frames.
    private var unframed: ByteBuffer?
    /// Set once a length prefix exceeds the protocol's limit: the stream is not frames,
    /// so the rest passes as it comes, for the target to refuse.
    private var passRaw = false
    /// Pieces that may be passed on (their delay, if any, is over).
    private var ready: CircularBuffer<Piece> = []
    /// Reads still in their delay.
    private var delayed = 0
    /// When the last delayed read is due: a later one is never due before it.
    private var lastDue = NIODeadline.distantPast
    private var inputClosed = false
    /// Set once a frame was dropped: the pair is closing and passes nothing more.
    private var dropped = false
    private var registration: Int?
    private var channel: (any Channel)?

    init(direction: TCPProxy.Direction, control: ProxyControl, partner: (any Channel)?) {
        self.direction = direction
        self.control = control
        self.partner = partner
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let channel = context.channel
        self.channel = channel
        registration = control.register(
            wake: { loop.execute { bound.value.pump() } },
            close: { channel.close(promise: nil) })
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let registration { control.unregister(registration) }
    }

    /// A connection accepted, or made to the target, while the proxy is blocked ends at
    /// once: `block` closes only the connections registered before it.
    func channelActive(context: ChannelHandlerContext) {
        if control.isBlocked {
            context.close(promise: nil)
            return
        }
        context.fireChannelActive()
    }

    func attach(_ partner: any Channel) {
        self.partner = partner
        pump()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        control.note(direction, received: buffer.readableBytes)
        if unframed == nil {
            unframed = buffer
        } else {
            unframed!.writeBuffer(&buffer)
        }
        enqueue(cutFrames(), on: context.eventLoop)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let rest = unframed, rest.readableBytes > 0 {
            unframed = nil
            enqueue([Piece(bytes: rest, type: nil)], on: context.eventLoop)
        }
        inputClosed = true
        pump()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Takes every whole frame off the front of `unframed`.
    private func cutFrames() -> [Piece] {
        guard var buffer = unframed else { return [] }
        var pieces: [Piece] = []
        while buffer.readableBytes > 0 {
            if passRaw {
                pieces.append(Piece(bytes: buffer.readSlice(length: buffer.readableBytes)!, type: nil))
                break
            }
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { break }
            guard Int(length) <= Limits.maxFrameSize else {
                passRaw = true
                continue
            }
            let size = FrameLength.prefixSize + Int(length)
            guard buffer.readableBytes >= size else { break }
            let type = buffer.getInteger(at: buffer.readerIndex + FrameLength.prefixSize, as: UInt8.self)
            pieces.append(Piece(bytes: buffer.readSlice(length: size)!, type: length > 0 ? type : nil))
        }
        unframed = buffer.readableBytes > 0 ? buffer : nil
        return pieces
    }

    private func enqueue(_ pieces: [Piece], on loop: any EventLoop) {
        guard !pieces.isEmpty else { return }
        let delay = control.delay(direction)
        if delay > .zero || delayed > 0 {
            delayed += 1
            lastDue = max(lastDue, .now() + delay)
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.scheduleTask(deadline: lastDue) {
                bound.value.delayed -= 1
                bound.value.ready.append(contentsOf: pieces)
                bound.value.pump()
            }
        } else {
            ready.append(contentsOf: pieces)
            pump()
        }
    }

    /// Passes on what may go, then the close if the input has ended and all went. A
    /// frame drawn to be dropped closes both sides instead, after what went before it.
    func pump() {
        guard let partner, !dropped, !control.isHeld(direction) else { return }
        var count = 0
        while let piece = ready.popFirst() {
            if let type = piece.type, control.drops(direction, type: type) {
                dropped = true
                ready.removeAll()
                partner.flush()
                control.note(direction, forwarded: count)
                partner.close(promise: nil)
                channel?.close(promise: nil)
                return
            }
            count += piece.bytes.readableBytes
            partner.write(piece.bytes, promise: nil)
        }
        if count > 0 {
            partner.flush()
            control.note(direction, forwarded: count)
        }
        if inputClosed && delayed == 0 && ready.isEmpty {
            partner.close(promise: nil)
        }
    }
}
