import KVTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// A member's whole answer to one request.
struct GatewayAnswer: Sendable {
    var status: Int
    var body: ByteBuffer
}

/// Why an exchange got no whole answer.
enum ExchangeFailure: Error, Sendable {
    /// The connection could not be made: nothing was sent.
    case connect(String)
    /// The connection broke or closed before the answer was complete; the request may
    /// have been sent and acted on.
    case lost(String)
    /// No whole answer within the time allowed.
    case timedOut
    /// The bytes that came back are not an HTTP answer, or one too large to take.
    case malformed(String)
    /// The client was closed.
    case closed
}

/// One request and its answer on a connection of its own, bounded by a deadline that
/// covers the connection, the request and the whole answer. Whatever happens first of
/// the answer, a failure, the deadline or `cancel()` completes it, and closes the
/// connection. Made first and started next, so that the client can register it (for
/// `close()`) before it does anything.
final class UnaryExchange: Sendable {
    /// An answer body larger than this is refused (see `LineSplitter.defaultLimit`).
    static let bodyLimit = LineSplitter.defaultLimit

    let future: EventLoopFuture<GatewayAnswer>
    private let promise: EventLoopPromise<GatewayAnswer>
    private let state = NIOLockedValueBox(State())

    private struct State {
        var finished = false
        var channel: (any Channel)?
        var deadline: Scheduled<Void>?
    }

    init(on eventLoop: any EventLoop) {
        promise = eventLoop.makePromise()
        future = promise.futureResult
    }

    /// Connects, sends the request and reads the answer, all within `timeout`. Does
    /// nothing if the exchange was cancelled already.
    func start(
        endpoint: EtcdEndpoint, path: String, body: ByteBuffer, timeout: TimeAmount, tls: (any ConnectionSecurity)?
    ) {
        let eventLoop = future.eventLoop
        let timer = eventLoop.scheduleTask(in: timeout) { [self] in finish(.failure(.timedOut)) }
        let started = state.withLockedValue { state -> Bool in
            guard !state.finished else { return false }
            state.deadline = timer
            return true
        }
        guard started else { return timer.cancel() }
        GatewayConnection.open(to: endpoint, on: eventLoop, timeout: timeout, tls: tls) { [self] in
            UnaryAnswerHandler(exchange: self)
        }.whenComplete { [self] result in
            switch result {
            case .success(let channel):
                let adopted = state.withLockedValue { state -> Bool in
                    guard !state.finished else { return false }
                    state.channel = channel
                    return true
                }
                // Finished meanwhile (deadline, cancel): the connection has no use.
                guard adopted else { return channel.close(promise: nil) }
                GatewayConnection.post(body, to: path, on: channel, endpoint: endpoint)
            case .failure(let error):
                finish(.failure(.connect("\(error)")))
            }
        }
    }

    /// Fails the exchange with `.closed` unless it already ended.
    func cancel() { finish(.failure(.closed)) }

    /// Completes the exchange; the first call wins.
    func finish(_ result: Result<GatewayAnswer, ExchangeFailure>) {
        let taken = state.withLockedValue { state -> (channel: (any Channel)?, deadline: Scheduled<Void>?)? in
            guard !state.finished else { return nil }
            state.finished = true
            defer {
                state.channel = nil
                state.deadline = nil
            }
            return (state.channel, state.deadline)
        }
        guard let taken else { return }
        taken.deadline?.cancel()
        taken.channel?.close(promise: nil)
        promise.completeWith(result.mapError { $0 })
    }
}

/// Gathers the answer's status and body, and tells the exchange how it ended.
final class UnaryAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let exchange: UnaryExchange
    private var status: Int?
    private var body = ByteBuffer()

    init(exchange: UnaryExchange) {
        self.exchange = exchange
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(var part):
            guard body.readableBytes + part.readableBytes <= UnaryExchange.bodyLimit else {
                exchange.finish(.failure(.malformed("an answer larger than \(UnaryExchange.bodyLimit) bytes")))
                return
            }
            body.writeBuffer(&part)
        case .end:
            exchange.finish(.success(GatewayAnswer(status: status ?? 0, body: body)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange.finish(.failure(.lost("the connection closed before the whole answer came")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            exchange.finish(.failure(.malformed("not an HTTP answer: \(error)")))
        } else {
            exchange.finish(.failure(.lost("\(error)")))
        }
        context.close(promise: nil)
    }
}
