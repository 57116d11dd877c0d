import KVTransport
import NIOCore
import NIOEmbedded
import XCTest

@testable import KVProtocol

/// Seeded mutations of the fuzz corpus (`fuzz/corpus`) through the transport's real
/// decoding path, `FrameDecoder` and `MessageCodecHandler` in an `EmbeddedChannel`, fed
/// in random chunks. Each outcome must match a straightforward reference reading of the
/// stream: the same frames, the same first error, detected as soon as its bytes are in
/// (an oversized length from its 4 bytes alone, before any body is buffered). The size
/// of what a decode allocates is checked directly by the libFuzzer targets
/// (`scripts/fuzz`, `-malloc_limit_mb`); here it shows as refusal before buffering.
final class DecoderFuzzTests: XCTestCase {
    static let seeds: [UInt64] = [1, 2, 3, 0x5EED, 0xC0FFEE, 0xDEAD_BEEF, 0x0123_4567_89AB_CDEF, 2026]
    static let inputsPerSeed = 500

    /// What a connection makes of a byte stream.
    struct Outcome {
        var frames: [Frame] = []
        var error: ProtocolError?
        /// Bytes of the stream needed to detect `error`; nil when it shows only at the close.
        var errorDetectableAt: Int?
    }

    /// How many inputs ended each way, so the test cannot pass without exercising them.
    struct Tally {
        var clean = 0
        var tooLarge = 0
        var malformed = 0
        var closedInsideFrame = 0
        var framesDecoded = 0
    }

    func testCommittedCorpusThroughTheTransport() throws {
        let inputs = try corpusStreams()
        XCTAssertGreaterThan(inputs.count, 50, "the corpus is in fuzz/corpus")
        var rng = SplitMix64(seed: 0)
        var tally = Tally()
        for (name, stream) in inputs {
            check(stream, name: name, rng: &rng, tally: &tally)
        }
        XCTAssertGreaterThan(tally.clean, 30)
        XCTAssertGreaterThan(tally.tooLarge, 1)
        XCTAssertGreaterThan(tally.malformed, 10)
    }

    func testSeededMutationsThroughTheTransport() throws {
        let corpus = try corpusStreams().map(\.bytes)
        var tally = Tally()
        for seed in Self.seeds {
            var rng = SplitMix64(seed: seed)
            for index in 0..<Self.inputsPerSeed {
                let stream = mutate(corpus[rng.below(corpus.count)], corpus: corpus, rng: &rng)
                check(stream, name: "seed \(seed) input \(index)", rng: &rng, tally: &tally)
            }
        }
        // Every way a stream can end must have been reached many times.
        XCTAssertGreaterThan(tally.clean, 300, "\(tally)")
        XCTAssertGreaterThan(tally.tooLarge, 100, "\(tally)")
        XCTAssertGreaterThan(tally.malformed, 1000, "\(tally)")
        XCTAssertGreaterThan(tally.closedInsideFrame, 100, "\(tally)")
        XCTAssertGreaterThan(tally.framesDecoded, 800, "\(tally)")
    }

    func testALengthOverTheLimitIsRefusedFromItsFourBytes() throws {
        for announced in [UInt32.max, UInt32(Limits.maxFrameSize + 1), 1 << 31] {
            let channel = EmbeddedChannel(handlers: [ByteToMessageHandler(FrameDecoder()), MessageCodecHandler()])
            XCTAssertThrowsError(
                try channel.writeInbound(channel.allocator.buffer(bytes: FuzzCorpus.length(Int(announced))))
            ) {
                XCTAssertEqual(($0 as? ProtocolError)?.code, .frameTooLarge, "\(announced): \($0)")
            }
            _ = try? channel.finish()
        }
        // At the limit the decoder waits for the body instead.
        let channel = EmbeddedChannel(handlers: [ByteToMessageHandler(FrameDecoder()), MessageCodecHandler()])
        XCTAssertNoThrow(
            try channel.writeInbound(channel.allocator.buffer(bytes: FuzzCorpus.length(Limits.maxFrameSize))))
        XCTAssertNil(try channel.readInbound(as: Frame.self))
        _ = try? channel.finish()
    }

    // MARK: - Checking one input

    private func check(_ stream: [UInt8], name: String, rng: inout SplitMix64, tally: inout Tally) {
        let expected = referenceOutcome(stream)
        let chunks = chunkSizes(for: stream.count, rng: &rng)
        let (actual, detectedAfter) = pipelineOutcome(stream, chunks: chunks)

        XCTAssertEqual(actual.error?.code, expected.error?.code, "\(name): \(String(describing: actual.error))")
        XCTAssertGreaterThanOrEqual(actual.frames.count, expected.frames.count, name)
        XCTAssertEqual(Array(actual.frames.prefix(expected.frames.count)), expected.frames, name)
        if expected.error == nil { XCTAssertEqual(actual.frames.count, expected.frames.count, name) }
        if let needed = expected.errorDetectableAt, let detectedAfter {
            // Detected in the very chunk that brought the offending bytes in, not later.
            let chunkStart = detectedAfter.fed - detectedAfter.chunk
            XCTAssertTrue(
                chunkStart < needed && needed <= detectedAfter.fed, "\(name): needed \(needed), \(detectedAfter)")
        } else {
            XCTAssertEqual(expected.errorDetectableAt == nil, detectedAfter == nil, "\(name): detected when")
        }
        for frame in actual.frames { assertRoundTrips(frame, name) }

        tally.framesDecoded += expected.frames.count
        switch (expected.error?.code, expected.errorDetectableAt) {
        case (nil, _): tally.clean += 1
        case (.frameTooLarge?, _): tally.tooLarge += 1
        case (_, nil): tally.closedInsideFrame += 1
        default: tally.malformed += 1
        }
    }

    private func assertRoundTrips(_ frame: Frame, _ name: String) {
        let encoded = MessageCodec.encode(frame)
        XCTAssertLessThanOrEqual(encoded.count, Limits.maxFrameSize, name)
        XCTAssertEqual(try MessageCodec.decode(encoded), frame, "\(name): re-encoded frame")
    }

    /// The stream read by the protocol's rules, one frame at a time.
    private func referenceOutcome(_ stream: [UInt8]) -> Outcome {
        var outcome = Outcome()
        var offset = 0
        while stream.count - offset >= FrameLength.prefixSize {
            var reader = WireReader(Array(stream[offset..<offset + FrameLength.prefixSize]))
            let length: Int
            do {
                length = try FrameLength.bodyLength(announced: try reader.u32())
            } catch {
                outcome.error = error
                outcome.errorDetectableAt = offset + FrameLength.prefixSize
                return outcome
            }
            guard stream.count - offset - FrameLength.prefixSize >= length else { break }
            let end = offset + FrameLength.prefixSize + length
            do {
                outcome.frames.append(try MessageCodec.decode(Array(stream[offset + FrameLength.prefixSize..<end])))
            } catch {
                outcome.error = error
                outcome.errorDetectableAt = end
                return outcome
            }
            offset = end
        }
        if offset < stream.count {
            outcome.error = ProtocolError(.malformedFrame, "connection closed inside a frame")
        }
        return outcome
    }

    /// The stream through `FrameDecoder` and `MessageCodecHandler`, `chunks` bytes at a
    /// time, then the connection closed. Also returns after how many bytes, and in a chunk
    /// of what size, the error surfaced (nil: at the close, or never).
    private func pipelineOutcome(_ stream: [UInt8], chunks: [Int]) -> (Outcome, (fed: Int, chunk: Int)?) {
        let channel = EmbeddedChannel(handlers: [ByteToMessageHandler(FrameDecoder()), MessageCodecHandler()])
        var outcome = Outcome()
        var detected: (fed: Int, chunk: Int)?
        var fed = 0
        func drain() {
            while let frame = try? channel.readInbound(as: Frame.self) { outcome.frames.append(frame) }
        }
        func record(_ error: any Error) {
            guard let protocolError = error as? ProtocolError else {
                return XCTFail("not a ProtocolError: \(error)")
            }
            outcome.error = protocolError
        }
        for size in chunks {
            do {
                try channel.writeInbound(channel.allocator.buffer(bytes: stream[fed..<fed + size]))
                fed += size
            } catch {
                fed += size
                record(error)
                detected = (fed, size)
                break
            }
            drain()
        }
        drain()
        do {
            _ = try channel.finish()
        } catch {
            if outcome.error == nil { record(error) }
        }
        return (outcome, detected)
    }

    /// Sizes that add up to `count`: all at once, byte by byte, or random pieces.
    private func chunkSizes(for count: Int, rng: inout SplitMix64) -> [Int] {
        guard count > 0 else { return [] }
        switch rng.below(4) {
        case 0: return [count]
        case 1 where count <= 64: return Array(repeating: 1, count: count)
        default:
            var sizes: [Int] = []
            var left = count
            while left > 0 {
                let size = min(left, 1 + rng.below(rng.below(2) == 0 ? 8 : 256))
                sizes.append(size)
                left -= size
            }
            return sizes
        }
    }

    // MARK: - Inputs

    private func corpusStreams() throws -> [(name: String, bytes: [UInt8])] {
        let bodies = try FuzzCorpus.files(in: FuzzCorpus.bodyDirectory).map {
            ("body/\($0.name)", FuzzCorpus.prefixed($0.bytes))
        }
        let streams = try FuzzCorpus.files(in: FuzzCorpus.streamDirectory).map { ("stream/\($0.name)", $0.bytes) }
        return bodies + streams
    }

    /// One to three mutations: inside frame bodies with their length prefixes kept right
    /// (so the payload parsers see them), or on the raw stream (prefixes included).
    private func mutate(_ original: [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) -> [UInt8] {
        var (bodies, tail) = splitFrames(original)
        if !bodies.isEmpty && rng.below(3) != 0 {
            for _ in 0...rng.below(3) {
                let index = rng.below(bodies.count)
                mutateBody(&bodies[index], corpus: corpus, rng: &rng)
            }
        }
        var stream = bodies.flatMap(FuzzCorpus.prefixed) + tail
        if rng.below(2) == 0 {
            mutateStream(&stream, corpus: corpus, rng: &rng)
        }
        return stream
    }

    private func mutateBody(_ body: inout [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) {
        switch rng.below(7) {
        case 0:  // flip a bit
            guard !body.isEmpty else { return }
            body[rng.below(body.count)] ^= 1 << UInt8(rng.below(8))
        case 1:  // a random type code, often a valid one
            guard !body.isEmpty else { return }
            body[0] =
                rng.below(2) == 0
                ? MessageType.allCases[rng.below(MessageType.allCases.count)].rawValue
                : UInt8(truncatingIfNeeded: rng.next())
        case 2:  // truncate
            body.removeLast(rng.below(body.count + 1))
        case 3:  // a huge or off-by-one u32 length or count somewhere
            guard body.count >= 4 else { return }
            let at = rng.below(body.count - 3)
            let values: [UInt32] = [.max, 0x8000_0000, UInt32(Limits.maxFrameSize), UInt32(Limits.maxValueSize + 1), 0]
            var w = WireWriter()
            w.u32(values[rng.below(values.count)])
            body.replaceSubrange(at..<at + 4, with: w.bytes)
        case 4:  // a huge u16 string length somewhere
            guard body.count >= 2 else { return }
            let at = rng.below(body.count - 1)
            body.replaceSubrange(at..<at + 2, with: rng.below(2) == 0 ? [0xFF, 0xFF] : [0x04, 0x01])
        case 5:  // insert or delete a few bytes
            if rng.below(2) == 0 || body.isEmpty {
                body.insert(contentsOf: rng.bytes(1 + rng.below(4)), at: rng.below(body.count + 1))
            } else {
                let at = rng.below(body.count)
                body.removeSubrange(at..<min(body.count, at + 1 + rng.below(4)))
            }
        default:  // splice: this body's start, another body's end
            let (others, _) = splitFrames(corpus[rng.below(corpus.count)])
            guard let other = others.first else { return }
            body = Array(body.prefix(rng.below(body.count + 1))) + other.suffix(rng.below(other.count + 1))
        }
    }

    private func mutateStream(_ stream: inout [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) {
        switch rng.below(5) {
        case 0:  // corrupt the first frame's length prefix
            guard stream.count >= 4 else { return }
            let current = Int(stream[0]) << 24 | Int(stream[1]) << 16 | Int(stream[2]) << 8 | Int(stream[3])
            let choices = [
                Int(UInt32.max), Limits.maxFrameSize + 1, Limits.maxFrameSize, 0, current + 1, max(0, current - 1),
                Int(rng.next() & 0xFFFF_FFFF),
            ]
            stream.replaceSubrange(0..<4, with: FuzzCorpus.length(choices[rng.below(choices.count)]))
        case 1:  // truncate
            stream.removeLast(rng.below(stream.count + 1))
        case 2:  // flip a bit anywhere
            guard !stream.isEmpty else { return }
            stream[rng.below(stream.count)] ^= 1 << UInt8(rng.below(8))
        case 3:  // splice two streams
            let other = corpus[rng.below(corpus.count)]
            stream = Array(stream.prefix(rng.below(stream.count + 1))) + other.suffix(rng.below(other.count + 1))
        default:  // garbage after the frames
            stream += rng.bytes(1 + rng.below(16))
        }
    }

    /// The bodies of the well-framed frames at the start of `stream`, and what follows them.
    private func splitFrames(_ stream: [UInt8]) -> (bodies: [[UInt8]], tail: [UInt8]) {
        var bodies: [[UInt8]] = []
        var offset = 0
        while stream.count - offset >= 4 {
            let length =
                Int(stream[offset]) << 24 | Int(stream[offset + 1]) << 16 | Int(stream[offset + 2]) << 8
                | Int(stream[offset + 3])
            guard length <= Limits.maxFrameSize, stream.count - offset - 4 >= length else { break }
            bodies.append(Array(stream[offset + 4..<offset + 4 + length]))
            offset += 4 + length
        }
        return (bodies, Array(stream[offset...]))
    }
}
