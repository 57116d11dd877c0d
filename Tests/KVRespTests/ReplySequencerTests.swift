import XCTest

@testable import KVResp

/// Replies leave in the order their commands arrived whatever order they complete in; a
/// waiting command's state is found by its number; the ring of places wraps and grows.
final class ReplySequencerTests: XCTestCase {
    private func reply(_ number: UInt64) -> RESPReply { RESPReply(.integer(Int64(number)), .resp2) }

    func testRepliesLeaveInOrderThroughGrowthAndWrapping() {
        var sequencer = ReplySequencer<String>()
        var handedOut: [UInt64] = []
        var next: UInt64 = 0
        // A window of 40 commands in flight (more than the first ring of 16), moving 2,000
        // times: completed newest first, so every reply waits for all before it.
        var open: [UInt64] = []
        for _ in 0..<2_000 {
            while open.count < 40 {
                XCTAssertEqual(sequencer.reserve(), next)
                sequencer.wait(next, for: "command \(next)")
                open.append(next)
                next += 1
            }
            let done = open.suffix(3).reversed() + open.prefix(1)
            for number in done {
                XCTAssertEqual(sequencer.take(number), "command \(number)")
                XCTAssertNil(sequencer.take(number), "taken once")
                sequencer.complete(number, with: reply(number))
            }
            open.removeAll { done.contains($0) }
            while let ready = sequencer.nextReady() {
                guard case .integer(let number) = ready.value else { return XCTFail("\(ready)") }
                handedOut.append(UInt64(number))
            }
        }
        XCTAssertEqual(handedOut, Array(0..<UInt64(handedOut.count)), "in command order, none skipped")
        XCTAssertEqual(sequencer.count, Int(next) - handedOut.count, "reserved and not handed out")
        XCTAssertNil(sequencer.take(next + 5), "not reserved")
        XCTAssertNil(sequencer.take(0), "handed out long ago")
    }
}
