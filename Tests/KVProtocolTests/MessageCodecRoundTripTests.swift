import XCTest

@testable import KVProtocol

final class MessageCodecRoundTripTests: XCTestCase {
    private func assertRoundTrip(_ frame: Frame, file: StaticString = #filePath, line: UInt = #line) {
        let encoded = MessageCodec.encode(frame)
        do {
            let decoded = try MessageCodec.decode(encoded)
            XCTAssertEqual(decoded, frame, "round trip of \(frame.message.typeCode)", file: file, line: line)
            XCTAssertEqual(
                MessageCodec.encode(decoded), encoded, "re-encoding is byte-identical", file: file, line: line)
        } catch {
            XCTFail("decode of \(frame.message.typeCode) failed: \(error)", file: file, line: line)
        }
    }

    func testEveryMessageTypeIsCoveredBySamples() {
        let covered = Set(SampleFrames.messages.map { $0.typeCode })
        XCTAssertEqual(covered, Set(MessageType.allCases))
    }

    func testRoundTripEverySample() {
        for frame in SampleFrames.frames { assertRoundTrip(frame) }
    }

    func testHeaderLayout() throws {
        let bytes = MessageCodec.encode(Frame(requestID: 0x0102_0304_0506_0708, message: .getView))
        XCTAssertEqual(bytes, [MessageType.getView.rawValue, 1, 2, 3, 4, 5, 6, 7, 8])
        let hello = MessageCodec.encode(Frame(requestID: 0, message: .hello(version: 0x0102)))
        XCTAssertEqual(hello, [0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x4B, 0x56, 0x53, 0x56, 0x01, 0x02])
    }

    func testHelloOfAnotherVersionStillDecodes() throws {
        // The version check belongs to the handshake, which must be able to read the
        // peer's version to answer versionMismatch.
        let frame = try MessageCodec.decode(MessageCodec.encode(Frame(requestID: 1, message: .hello(version: 99))))
        XCTAssertEqual(frame.message, .hello(version: 99))
    }

    func testRequestWithEmptyAndBinaryKeysAndValues() {
        for op in Operation.allCases {
            for key in [[], allByteValues, [0], Bytes(utf8: "ключ")] as [Bytes] {
                for value in [[], allByteValues, [0, 0, 0], Bytes(repeating: 0xFF, count: 10_000)] as [Bytes] {
                    assertRoundTrip(
                        Frame(
                            requestID: 77,
                            message: .request(ClientRequest(op: op, clientID: 1 << 63, seq: 5, key: key, value: value)))
                    )
                }
            }
        }
    }

    func testRequestAtExactSizeLimits() {
        let key = Bytes(repeating: 0xAB, count: Limits.maxKeySize)
        let value = Bytes(repeating: 0xCD, count: Limits.maxValueSize)
        assertRoundTrip(
            Frame(requestID: 1, message: .request(ClientRequest(op: .put, clientID: 1, seq: 1, key: key, value: value)))
        )
        assertRoundTrip(Frame(requestID: 2, message: .reply(ClientReply(status: .ok, value: value))))
    }

    func testForwardWithManyUpdates() {
        let updates = SampleFrames.manyUpdates(5_000)
        assertRoundTrip(
            Frame(
                requestID: 3,
                message: .forward(
                    ForwardBatch(
                        viewnum: 12, from: SampleFrames.unicodeAddress, transferID: 4, batchSeq: 99,
                        updates: updates))))
    }

    func testTransferWithManyEntriesAndDuplicates() {
        assertRoundTrip(
            Frame(
                requestID: 4,
                message: .transfer(
                    TransferChunk(
                        viewnum: 12, from: "p:1", transferID: 4, index: 7, isLast: false,
                        entries: SampleFrames.manyEntries(4_000), duplicates: SampleFrames.manyDuplicates(3_000)))))
    }

    func testTransferChunkEqualityComparesEntries() {
        let a = TransferChunk(
            viewnum: 1, from: "p", transferID: 1, index: 0, isLast: true, entries: [([1], [2])], duplicates: [])
        var b = a
        b.entries = [([1], [3])]
        XCTAssertNotEqual(a, b)
        b.entries = [([1], [2]), ([4], [5])]
        XCTAssertNotEqual(a, b)
    }

    func testRandomFramesRoundTrip() {
        var rng = SplitMix64(seed: 0x5EED)
        for _ in 0..<500 {
            let message: Message
            switch rng.below(6) {
            case 0:
                message = .request(
                    ClientRequest(
                        op: Operation.allCases[rng.below(4)], clientID: rng.next(), seq: rng.next(),
                        key: rng.bytes(rng.below(64)), value: rng.bytes(rng.below(300))))
            case 1:
                message = .reply(
                    ClientReply(status: ReplyStatus.allCases[rng.below(6)], value: rng.bytes(rng.below(300))))
            case 2:
                let updates = (0..<rng.below(20)).map { _ in
                    ForwardedUpdate(
                        effect: rng.below(2) == 0 ? .set : .delete, key: rng.bytes(rng.below(30)),
                        value: rng.bytes(rng.below(30)), clientID: rng.next(), seq: rng.next(),
                        reply: ClientReply(status: ReplyStatus.allCases[rng.below(6)], value: rng.bytes(rng.below(10))))
                }
                message = .forward(
                    ForwardBatch(
                        viewnum: rng.next(), from: "s\(rng.next())", transferID: rng.next(), batchSeq: rng.next(),
                        updates: updates))
            case 3:
                message = .transfer(
                    TransferChunk(
                        viewnum: rng.next(), from: "s:\(rng.below(65536))", transferID: rng.next(),
                        index: UInt32(truncatingIfNeeded: rng.next()), isLast: rng.below(2) == 0,
                        entries: (0..<rng.below(20)).map { _ in (rng.bytes(rng.below(20)), rng.bytes(rng.below(40))) },
                        duplicates: (0..<rng.below(20)).map { _ in
                            DuplicateEntry(
                                clientID: rng.next(), seq: rng.next(),
                                reply: ClientReply(status: .ok, value: rng.bytes(rng.below(8))))
                        }))
            case 4:
                message = .viewReply(
                    View(
                        viewnum: rng.next(), primary: "p:\(rng.next())", backup: rng.below(2) == 0 ? "" : "b:1",
                        acked: rng.below(2) == 0, cluster: rng.below(2) == 0 ? 0 : max(rng.next(), 1)))
            default:
                message = .ping(address: "ä:\(rng.next())", viewnum: rng.next())
            }
            assertRoundTrip(Frame(requestID: rng.next(), message: message))
        }
    }

    func testEncodeIntoExistingWriterAppends() throws {
        var w = WireWriter()
        w.raw([0xAA])
        let frame = Frame(requestID: 5, message: .ping(address: "x:1", viewnum: 2))
        MessageCodec.encode(frame, into: &w)
        XCTAssertEqual(w.bytes.first, 0xAA)
        XCTAssertEqual(try MessageCodec.decode(Array(w.bytes.dropFirst())), frame)
    }
}
