import KVProtocol
import NIOCore
import NIOEmbedded
import XCTest

@testable import KVTransport

/// Requests time out on their own deadlines although they share one timer.
final class RequestMultiplexerTimeoutTests: XCTestCase {
    private func send(
        _ channel: EmbeddedChannel, timeout: TimeAmount
    ) throws -> (id: UInt64, result: () -> Result<Message, any Error>?) {
        let promise = channel.eventLoop.makePromise(of: Message.self)
        var result: Result<Message, any Error>?
        promise.futureResult.assumeIsolated().whenComplete { result = $0 }
        try channel.writeOutbound(OutgoingRequest(message: .getView, promise: promise, timeout: timeout))
        let frame = try XCTUnwrap(try channel.readOutbound(as: Frame.self))
        return (frame.requestID, { result })
    }

    private func isTimedOut(_ result: Result<Message, any Error>?) -> Bool {
        guard case .failure(let error) = result, case TransportError.timedOut = error else { return false }
        return true
    }

    func testEachRequestFailsAtItsOwnDeadlineAndAnsweredOnesNever() throws {
        let channel = EmbeddedChannel(handler: RequestMultiplexer())
        let long = try send(channel, timeout: .seconds(3))
        let short = try send(channel, timeout: .seconds(1))
        let answered = try send(channel, timeout: .seconds(1))
        try channel.writeInbound(Frame(requestID: answered.id, message: .viewReply(.initial)))
        XCTAssertNotNil(try? answered.result()?.get())

        channel.embeddedEventLoop.advanceTime(by: .milliseconds(999))
        XCTAssertNil(short.result(), "not before its deadline")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        XCTAssertTrue(isTimedOut(short.result()), "a later request with an earlier deadline still fails on time")
        XCTAssertNil(long.result())
        XCTAssertNotNil(try? answered.result()?.get(), "an answered request is not failed afterwards")

        // A request sent later with a shorter timeout than the one the timer waits for.
        let late = try send(channel, timeout: .milliseconds(500))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        XCTAssertTrue(isTimedOut(late.result()))
        XCTAssertNil(long.result())
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1500))
        XCTAssertTrue(isTimedOut(long.result()), "the first request fails at 3 s")
        _ = try channel.finish()
    }

    func testClosingFailsWhatIsPendingAndNothingFiresLater() throws {
        let channel = EmbeddedChannel(handler: RequestMultiplexer())
        let pending = try send(channel, timeout: .seconds(1))
        _ = try channel.finish()
        guard case .failure(let error) = pending.result(), case TransportError.connectionClosed = error else {
            return XCTFail("expected connectionClosed, got \(String(describing: pending.result()))")
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
    }
}
