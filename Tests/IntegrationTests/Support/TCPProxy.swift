import Foundation
import KVTransport
import NIOCore
import NIOPosix

/// A TCP proxy for tests: accepts on 127.0.0.1, opens a connection to the target for each
/// accepted one, and copies bytes both ways. Bytes can be held (kept until `release()`)
/// or delayed by a fixed time, per direction. Order is kept, and a close from one side
/// reaches the other only after the bytes before it.
///
/// Like the original test's proxy, it stands in for the server's address, so whoever
/// uses that address (clients, a primary forwarding to it) goes through it.
final class TCPProxy: Sendable {
    enum Direction: Sendable {
        /// From whoever connected to the proxy, towards the target.
        case toTarget
        /// From the target back to whoever connected.
        case toConnector
    }

    let channel: any Channel
    let control: ProxyControl
    let target: PeerAddress

    private init(channel: any Channel, control: ProxyControl, target: PeerAddress) {
        self.channel = channel
        self.control = control
        self.target = target
    }

    var port: Int { channel.localAddress?.port ?? 0 }
    var address: String { "127.0.0.1:\(port)" }

    static func start(port: Int = 0, target: PeerAddress, group: any EventLoopGroup) async throws -> TCPProxy {
        let control = ProxyControl()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { inbound in
                inbound.eventLoop.makeCompletedFuture {
                    let toTarget = ProxyHandler(direction: .toTarget, control: control, partner: nil)
                    try inbound.pipeline.syncOperations.addHandler(toTarget)
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

    /// Keeps bytes going `direction` in the proxy until `release`.
    func hold(_ direction: Direction = .toTarget) { control.setHeld(direction, true) }

    /// Lets held bytes (and any close that followed them) through, in order.
    func release(_ direction: Direction = .toTarget) {
        control.setHeld(direction, false)
        control.wakeAll()
    }

    /// Delays every chunk going `direction` by `delay` from its arrival.
    func setDelay(_ delay: TimeAmount, _ direction: Direction = .toTarget) { control.setDelay(direction, delay) }

    /// Bytes received from the sending side, so far.
    func bytesReceived(_ direction: Direction = .toTarget) -> Int { control.counters.get()[direction]?.received ?? 0 }
    /// Bytes passed on to the other side, so far.
    func bytesForwarded(_ direction: Direction = .toTarget) -> Int { control.counters.get()[direction]?.forwarded ?? 0 }

    func stop() async {
        try? await channel.close()
        control.closeAll()
    }
}

/// The state shared by a proxy's connections.
final class ProxyControl: @unchecked Sendable {
    struct Counter {
        var received = 0
        var forwarded = 0
    }

    private let lock = NSLock()
    private var held: Set<TCPProxy.Direction> = []
    private var delays: [TCPProxy.Direction: TimeAmount] = [:]
    private var wakers: [Int: @Sendable () -> Void] = [:]
    private var closers: [Int: @Sendable () -> Void] = [:]
    private var nextID = 0
    let counters = Locked<[TCPProxy.Direction: Counter]>([:])

    func isHeld(_ direction: TCPProxy.Direction) -> Bool { lock.withLock { held.contains(direction) } }

    func setHeld(_ direction: TCPProxy.Direction, _ on: Bool) {
        lock.withLock {
            if on { held.insert(direction) } else { held.remove(direction) }
        }
    }

    func delay(_ direction: TCPProxy.Direction) -> TimeAmount { lock.withLock { delays[direction] ?? .zero } }
    func setDelay(_ direction: TCPProxy.Direction, _ delay: TimeAmount) { lock.withLock { delays[direction] = delay } }

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

    func note(_ direction: TCPProxy.Direction, received: Int = 0, forwarded: Int = 0) {
        counters.update { counters in
            counters[direction, default: Counter()].received += received
            counters[direction, default: Counter()].forwarded += forwarded
        }
    }
}

/// Copies what one side of a proxied pair reads to the other side.
private final class ProxyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let direction: TCPProxy.Direction
    private let control: ProxyControl
    private var partner: (any Channel)?
    /// Bytes that have arrived and may be passed on (their delay, if any, is over).
    private var ready: CircularBuffer<ByteBuffer> = []
    /// Chunks still in their delay.
    private var delayed = 0
    /// When the last delayed chunk is due: a later chunk is never due before it.
    private var lastDue = NIODeadline.distantPast
    private var inputClosed = false
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

    func attach(_ partner: any Channel) {
        self.partner = partner
        pump()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        control.note(direction, received: buffer.readableBytes)
        let delay = control.delay(direction)
        if delay > .zero || delayed > 0 {
            delayed += 1
            lastDue = max(lastDue, .now() + delay)
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(deadline: lastDue) {
                bound.value.delayed -= 1
                bound.value.ready.append(buffer)
                bound.value.pump()
            }
        } else {
            ready.append(buffer)
            pump()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inputClosed = true
        pump()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Passes on what may go, then the close if the input has ended and all went.
    func pump() {
        guard let partner, !control.isHeld(direction) else { return }
        if !ready.isEmpty {
            var count = 0
            while let buffer = ready.popFirst() {
                count += buffer.readableBytes
                partner.write(buffer, promise: nil)
            }
            partner.flush()
            control.note(direction, forwarded: count)
        }
        if inputClosed && delayed == 0 && ready.isEmpty {
            partner.close(promise: nil)
        }
    }
}
