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
        // 0.1's forward and transfer are read, never written (LegacyFormatTests).
        XCTAssertEqual(covered, Set(MessageType.allCases).subtracting([.forwardV1, .transferV1]))
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
                        viewnum: 12, from: "p:1", transferID: 4, index: 7, isLast: false, revision: 0,
                        entries: SampleFrames.manyEntries(4_000), duplicates: SampleFrames.manyDuplicates(3_000)))))
    }

    func testTransferChunkEqualityComparesEntries() {
        let a = TransferChunk(
            viewnum: 1, from: "p", transferID: 1, index: 0, isLast: true, revision: 0,
            entries: [([1], StoredValue(value: [2], revision: 1))], duplicates: [])
        var b = a
        b.entries = [([1], StoredValue(value: [3], revision: 1))]
        XCTAssertNotEqual(a, b)
        b.entries = [([1], StoredValue(value: [2], revision: 2))]
        XCTAssertNotEqual(a, b)
        b.entries = [([1], StoredValue(value: [2], revision: 1)), ([4], StoredValue(value: [5], revision: 1))]
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
                        change: rng.below(2) == 0
                            ? .put(
                                rng.bytes(rng.below(30)),
                                StoredValue(
                                    value: rng.bytes(rng.below(30)), revision: rng.next(), expiresAt: rng.next()))
                            : .delete(rng.bytes(rng.below(30))), revision: rng.next(), clientID: rng.next(),
                        seq: rng.next(),
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
                        revision: rng.next(),
                        entries: (0..<rng.below(20)).map { _ in
                            (
                                rng.bytes(rng.below(20)),
                                StoredValue(value: rng.bytes(rng.below(40)), revision: rng.next())
                            )
                        },
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

final class LegacyFormatTests: XCTestCase {
    /// An upgraded backup reads a 0.1 primary's forwards: revision 0 asks it to number
    /// each update itself.
    func testA01PrimarysForwardIsRead() throws {
        let frame = try MessageCodec.decode(LegacyFrames.forward)
        XCTAssertEqual(frame.requestID, 5)
        guard case .forward(let batch) = frame.message else { return XCTFail("not a forward: \(frame.message)") }
        XCTAssertEqual(batch.viewnum, 3)
        XCTAssertEqual(batch.from, "p:1")
        XCTAssertEqual(
            batch.updates,
            [
                ForwardedUpdate(
                    change: .put(Bytes(utf8: "k"), StoredValue(value: Bytes(utf8: "v"), revision: 0)), revision: 0,
                    clientID: 7, seq: 1, reply: ClientReply(status: .ok)),
                ForwardedUpdate(
                    change: .delete(Bytes(utf8: "gone")), revision: 0, clientID: 7, seq: 2,
                    reply: ClientReply(status: .noKey)),
            ])
    }

    func testA01PrimarysTransferChunkIsRead() throws {
        let frame = try MessageCodec.decode(LegacyFrames.transfer)
        guard case .transfer(let chunk) = frame.message else { return XCTFail("not a transfer: \(frame.message)") }
        XCTAssertEqual(chunk.revision, 0)
        XCTAssertTrue(chunk.isLast)
        XCTAssertEqual(chunk.entries.map(\.key), [Bytes(utf8: "k")])
        XCTAssertEqual(chunk.entries.map(\.value), [StoredValue(value: Bytes(utf8: "v"), revision: 0)])
        XCTAssertEqual(chunk.duplicates, [DuplicateEntry(clientID: 7, seq: 2, reply: ClientReply(status: .noKey))])
    }
}
