import FoundationEssentials
import KVTransport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// A watch on a key prefix, streaming from one member until it ends. It never resumes by
/// itself: the watcher learns of the end through `ended` and decides (read the state
/// again, watch again from the next revision, maybe on another member).
public final class EtcdWatch: Sendable {
    /// Fails when the watch ends, whatever the reason: `.compacted` (its start revision
    /// is gone), `.unavailable` (the member lost its leader, or ended the stream),
    /// `.unreachable` (connection refused or lost, or no answer to the watch's creation
    /// within the client's request timeout), `.rejected`, `.malformedAnswer`, or
    /// `.closed` (cancelled, or the client closed). It never succeeds.
    public var ended: EventLoopFuture<Void> { promise.futureResult }

    let endpoint: EtcdEndpoint
    private let promise: EventLoopPromise<Void>
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var finished = false
        var channel: (any Channel)?
        /// Ends the watch when the member does not confirm its creation in time.
        var creationTimer: Scheduled<Void>?
    }

    init(endpoint: EtcdEndpoint, on eventLoop: any EventLoop, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
        promise = eventLoop.makePromise()
    }

    /// Opens the watch stream with `request` (a `create_request`). Does nothing if the
    /// watch was cancelled already. `onEvents` runs on the watch's event loop, one batch at
    /// a time in the order etcd sent them; it should return quickly.
    func start(
        request: ByteBuffer, creationTimeout: TimeAmount, tls: (any ConnectionSecurity)?,
        onEvents: @escaping @Sendable ([EtcdWatchEvent], Int64) -> Void
    ) {
        let endpoint = endpoint
        let eventLoop = promise.futureResult.eventLoop
        let timer = eventLoop.scheduleTask(in: creationTimeout) { [self] in
            finish(
                .unreachable(
                    endpoint: "\(endpoint)",
                    detail: "the watch was not created within \(milliseconds(creationTimeout))"))
        }
        let started = state.withLockedValue { state -> Bool in
            guard !state.finished else { return false }
            state.creationTimer = timer
            return true
        }
        guard started else { return timer.cancel() }
        GatewayConnection.open(to: endpoint, on: eventLoop, timeout: creationTimeout, tls: tls) { [self] in
            WatchStreamHandler(watch: self, onEvents: onEvents)
        }.whenComplete { [self] result in
            switch result {
            case .success(let channel):
                let adopted = state.withLockedValue { state -> Bool in
                    guard !state.finished else { return false }
                    state.channel = channel
                    return true
                }
                guard adopted else { return channel.close(promise: nil) }
                GatewayConnection.post(request, to: "/v3/watch", on: channel, endpoint: endpoint)
            case .failure(let error):
                finish(.unreachable(endpoint: "\(endpoint)", detail: "cannot connect: \(error)"))
            }
        }
    }

    /// Ends the watch; `ended` then fails with `.closed`. A batch being delivered at that
    /// moment may still be.
    public func cancel() { finish(.closed) }

    var hasEnded: Bool { state.withLockedValue { $0.finished } }

    /// The member confirmed the watch: from now on silence means "no change".
    func created() {
        let timer = state.withLockedValue { state -> Scheduled<Void>? in
            defer { state.creationTimer = nil }
            return state.creationTimer
        }
        timer?.cancel()
        logger.debug("etcd watch created", metadata: ["etcd_endpoint": "\(endpoint)"])
    }

    /// Ends the watch with `error`; the first call wins.
    func finish(_ error: EtcdError) {
        let taken = state.withLockedValue { state -> (channel: (any Channel)?, timer: Scheduled<Void>?)? in
            guard !state.finished else { return nil }
            state.finished = true
            defer {
                state.channel = nil
                state.creationTimer = nil
            }
            return (state.channel, state.creationTimer)
        }
        guard let taken else { return }
        taken.timer?.cancel()
        taken.channel?.close(promise: nil)
        logger.debug("etcd watch ended", metadata: ["etcd_endpoint": "\(endpoint)", "etcd_error": "\(error)"])
        promise.fail(error)
    }
}

/// Reads a watch's stream: one `{"result": WatchResponse}` per line, or a last
/// `{"error": ...}` line when etcd ends the stream (no leader, say).
final class WatchStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let watch: EtcdWatch
    private let onEvents: @Sendable ([EtcdWatchEvent], Int64) -> Void
    private var status: Int?
    private var lines = LineSplitter()
    /// The body of an answer other than 200, read whole to say why.
    private var errorBody = ByteBuffer()

    init(watch: EtcdWatch, onEvents: @escaping @Sendable ([EtcdWatchEvent], Int64) -> Void) {
        self.watch = watch
        self.onEvents = onEvents
    }

    private var endpoint: String { "\(watch.endpoint)" }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(var part):
            guard status == 200 else {
                if errorBody.readableBytes < 64 * 1024 { errorBody.writeBuffer(&part) }
                return
            }
            do {
                try lines.append(part)
            } catch {
                return watch.finish(.malformedAnswer(endpoint: endpoint, detail: "a line longer than the limit"))
            }
            while !watch.hasEnded, let line = lines.nextLine() {
                read(line)
            }
        case .end:
            if status == 200 {
                if !watch.hasEnded, let last = lines.remainder() { read(last) }
                watch.finish(.unavailable(endpoint: endpoint, detail: "the member ended the watch stream"))
            } else {
                watch.finish(ErrorAnswerClassification.error(endpoint: endpoint, status: status ?? 0, body: errorBody))
            }
        }
    }

    private func read(_ line: ByteBuffer) {
        guard line.readableBytesView.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) else {
            return
        }
        let message: StreamLine<WatchAnswer>
        do {
            message = try JSONDecoder().decode(StreamLine<WatchAnswer>.self, from: Data(line.readableBytesView))
        } catch {
            let text = ErrorAnswerClassification.printable(line)
            return watch.finish(.malformedAnswer(endpoint: endpoint, detail: "watch message \(text): \(error)"))
        }
        if let error = message.error {
            return watch.finish(
                ErrorAnswerClassification.error(
                    endpoint: endpoint, status: error.http_code ?? 0, grpcCode: error.grpc_code,
                    message: error.message ?? "the watch stream ended with an error"))
        }
        guard let answer = message.result else {
            let text = ErrorAnswerClassification.printable(line)
            return watch.finish(.malformedAnswer(endpoint: endpoint, detail: "watch message without result: \(text)"))
        }
        if answer.created == true { watch.created() }
        if answer.canceled == true {
            if let compacted = answer.compact_revision?.value, compacted > 0 {
                return watch.finish(.compacted(compactRevision: compacted))
            }
            return watch.finish(
                .rejected(
                    endpoint: endpoint, status: 200, detail: answer.cancel_reason ?? "the member cancelled the watch"))
        }
        let events = (answer.events ?? []).compactMap(EtcdWatchEvent.init)
        guard events.count == answer.events?.count ?? 0 else {
            // Skipping an event etcd sent would hide a change from the watcher.
            let text = ErrorAnswerClassification.printable(line)
            return watch.finish(.malformedAnswer(endpoint: endpoint, detail: "unreadable watch event: \(text)"))
        }
        // An empty batch is a creation answer or a progress notice: nothing to tell.
        guard !events.isEmpty else { return }
        onEvents(events, answer.header?.revision?.value ?? 0)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watch.finish(.unreachable(endpoint: endpoint, detail: "the watch connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            watch.finish(.malformedAnswer(endpoint: endpoint, detail: "not an HTTP answer: \(error)"))
        } else {
            watch.finish(.unreachable(endpoint: endpoint, detail: "\(error)"))
        }
        context.close(promise: nil)
    }
}
